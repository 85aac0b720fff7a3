"""``token-blacklist check``: the exit code says whether every hash is blacklisted."""

from __future__ import annotations

import json

from assertions import random_hashes
from token_blacklist import hash_token
from token_blacklist.server import free_port

from .conftest import lines_of

PREFIX = "token_blacklist"


def test_exit_code_and_output_follow_what_redis_holds(cli, redis_server, admin):
    revoked, fresh = random_hashes(2)
    admin.set(f"{PREFIX}:{revoked}", 1, ex=60)
    url = ("--redis-url", redis_server.url)

    only_revoked = cli("check", revoked, *url)
    assert only_revoked.code == 0
    assert only_revoked.out == f"{revoked}\tblacklisted\n"

    both = cli("check", *url, stdin=lines_of([revoked, fresh, revoked]))
    assert both.code == 3
    assert both.out.splitlines() == [f"{revoked}\tblacklisted", f"{fresh}\tnot-blacklisted"]

    as_json = cli("check", "--json", fresh, *url)
    assert as_json.code == 3
    assert json.loads(as_json.out) == {
        "checked": 1,
        "blacklisted": 0,
        "results": [{"hash": fresh, "blacklisted": False}],
    }
    assert cli("check", "--quiet", revoked, *url).out == ""


def test_raw_tokens_only_from_stdin_and_never_echoed(cli, redis_server, admin):
    token = "opaque-session-token-0123456789"
    admin.set(f"{PREFIX}:{hash_token(token)}", 1, ex=60)
    ran = cli("check", "--hash", "--redis-url", redis_server.url, stdin=token + "\n")
    assert ran.code == 0, ran.err
    assert ran.out == "line 1\tblacklisted\n"
    refused = cli("check", "--hash", token, "--redis-url", redis_server.url)
    assert refused.code == 4
    assert token not in refused.err + refused.out


def test_bad_input_and_unreachable_redis_have_their_own_codes(cli, redis_server):
    bad = cli("check", random_hashes(1)[0], "abc", "--redis-url", redis_server.url)
    assert bad.code == 4 and "argument 2:" in bad.err and "abc" not in bad.err  # not "line"
    on_stdin = cli("check", "--redis-url", redis_server.url, stdin="0123456789ab\nabc\n")
    assert on_stdin.code == 4 and "line 2:" in on_stdin.err
    nothing = cli("check", "--redis-url", redis_server.url, stdin="")
    assert nothing.code == 4 and "line 0" not in nothing.err and "no token hash" in nothing.err
    raw = cli("check", "--hash", "some-raw-token-value", "--redis-url", redis_server.url)
    assert raw.code == 4 and "line 0" not in raw.err
    down = cli("check", random_hashes(1)[0], "--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert down.code == 5
