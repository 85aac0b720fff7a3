"""``token-blacklist revoke`` against real servers: counts equal what Redis holds."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from assertions import held, random_hashes
from conftest import PARTIAL_USER
from token_blacklist import hash_token
from token_blacklist.server import free_port

from .conftest import cli_env, command, lines_of

PREFIX = "token_blacklist"


def test_revokes_everything_with_per_line_ttls(cli, redis_server, admin):
    hashes = random_hashes(2500)
    ttls = [600 if i % 2 else None for i in range(len(hashes))]
    ran = cli(
        "revoke", "--ttl", "60", "--batch-size", "1000", "--json", "--progress", "rich",
        "--redis-url", redis_server.url,
        stdin=lines_of(hashes, ttls),
    )  # fmt: skip
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["requested"] == summary["succeeded"] == 2500
    assert summary["failed"] == 0 and summary["batches"] == 3 and summary["exit_code"] == 0
    assert held(admin, hashes) == set(hashes)
    assert 540 < admin.ttl(f"{PREFIX}:{hashes[1]}") <= 600  # the line's own TTL
    assert 0 < admin.ttl(f"{PREFIX}:{hashes[0]}") <= 60  # --ttl for lines without one
    assert "tokens/s" in ran.err and "\x1b[" in ran.err  # the rich progress bar on stderr
    assert not any(h in ran.err for h in hashes)


def test_partial_failure_lists_exactly_the_failed_hashes_and_rerun_fixes_them(
    cli, acl_server, tmp_path
):
    admin = acl_server.client()
    admin.flushall()
    hashes = random_hashes(3000)
    failed_out = tmp_path / "failed.txt"
    user, password = PARTIAL_USER
    url = f"redis://{user}@{acl_server.host}:{acl_server.port}/0"
    ran = cli(
        "revoke", "--ttl", "300", "--batch-size", "1000", "--failed-out", str(failed_out),
        "--json", "--redis-url", url,
        stdin=lines_of(hashes),
        env={"REDIS_PASSWORD": password},
    )  # fmt: skip
    assert ran.code == 3, ran.err
    summary = json.loads(ran.out)
    in_redis = held(admin, hashes)
    listed = failed_out.read_text().split()
    assert summary["succeeded"] == len(in_redis) > 0
    assert summary["failed"] == len(listed) == len(hashes) - len(in_redis) > 0
    assert summary["reasons"] == {"noperm": summary["failed"]}
    assert set(listed) == set(hashes) - in_redis
    assert "done: 3,000 tokens" in ran.err  # plain progress on a pipe
    assert not any(h in ran.err for h in hashes)
    assert password not in ran.err + ran.out

    rerun = cli(
        "revoke", "--ttl", "300", "--json", "--progress", "none",
        "--redis-url", acl_server.url, str(failed_out),
    )  # fmt: skip
    assert rerun.code == 0, rerun.err
    assert json.loads(rerun.out)["succeeded"] == len(listed)
    assert held(admin, hashes) == set(hashes)
    admin.close()


def test_unusable_line_stops_after_sending_every_line_before_it(cli, redis_server, admin):
    good = random_hashes(5)
    text = lines_of(good[:3]) + "not-a-hash!\n" + lines_of(good[3:])
    ran = cli("revoke", "--ttl", "60", "--json", "--redis-url", redis_server.url, stdin=text)
    assert ran.code == 4
    summary = json.loads(ran.out)
    assert summary["input_error"].startswith("line 4: ")
    assert summary["succeeded"] == 3
    assert held(admin, good) == set(good[:3])
    assert "not-a-hash" not in ran.err + ran.out


def test_raw_tokens_are_hashed_with_the_hmac_key_from_the_environment(
    cli, redis_server, admin, tmp_path
):
    tokens = [f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1{i}In0.c2lnbmF0dXJl{i}" for i in range(20)]
    key = "server-side-secret"
    ran = cli(
        "revoke", "--hash", "--ttl", "60", "--json", "--redis-url", redis_server.url,
        stdin="\n".join(tokens) + "\n",
        env={"TOKEN_BLACKLIST_HMAC_KEY": key},
    )  # fmt: skip
    assert ran.code == 0, ran.err
    expected = {hash_token(t, key=key.encode()) for t in tokens}
    assert held(admin, expected) == expected
    assert admin.dbsize() == len(tokens)
    assert "HMAC-SHA-256" in ran.err
    assert not any(t in ran.out + ran.err for t in tokens)
    assert key not in ran.out + ran.err


def test_unreachable_redis_exits_5_without_reading_on(cli):
    ran = cli(
        "revoke", "--ttl", "60", "--redis-url", f"redis://127.0.0.1:{free_port()}/0",
        stdin=lines_of(random_hashes(3)),
    )  # fmt: skip
    assert ran.code == 5
    assert "not usable (connection" in ran.err


def test_input_is_streamed_batch_by_batch(redis_server, admin):
    """The first batches are in Redis while the input is still open: nothing waits for EOF."""
    hashes = random_hashes(450)
    process = subprocess.Popen(
        [*command(), "revoke", "--ttl", "60", "--batch-size", "100", "--progress", "none",
         "--redis-url", redis_server.url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=cli_env(),
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(lines_of(hashes[:250]))
    process.stdin.flush()
    deadline = time.monotonic() + 20
    while len(held(admin, hashes[:200])) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held(admin, hashes[:200]) == set(hashes[:200])
    assert process.poll() is None, "revoke ended before its input did"
    process.stdin.write(lines_of(hashes[250:]))
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert held(admin, hashes) == set(hashes)


def test_help_names_exit_codes_and_an_example(cli):
    for name in ("revoke", "check", "doctor", "demo"):
        ran = cli(name, "--help")
        assert ran.code == 0
        assert "examples:" in ran.out and "exit codes" in ran.out, name


def test_wrong_option_is_a_usage_error(cli):
    assert cli("revoke", "--ttl", "soon").code == 2
    assert cli("revoke", "--ttl", "0", stdin="").code == 2


def test_redis_is_left_alone_by_a_wrong_password(cli, acl_server):
    url = f"redis://{PARTIAL_USER[0]}@{acl_server.host}:{acl_server.port}/0"
    ran = cli(
        "revoke", "--ttl", "60", "--redis-url", url, stdin=lines_of(random_hashes(2)),
        env={"REDIS_PASSWORD": "not-the-pw-123"},
    )  # fmt: skip
    assert ran.code == 5
    assert "auth: wrong user name or password" in ran.err and "not-the-pw-123" not in ran.err


def test_ctrl_c_reports_what_was_done_and_exits_130(redis_server, admin):
    hashes = random_hashes(300)
    process = subprocess.Popen(
        [*command(), "revoke", "--ttl", "60", "--batch-size", "100", "--progress", "none",
         "--json", "--redis-url", redis_server.url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=cli_env(),
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(lines_of(hashes))
    process.stdin.flush()
    deadline = time.monotonic() + 20
    while len(held(admin, hashes)) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # the input is still open: revoke is waiting for more
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    summary = json.loads(out)
    assert summary["interrupted"] is True
    assert summary["succeeded"] == len(held(admin, hashes)) == 300


def test_cluster_revoke_counts_equal_what_the_nodes_hold(cli, cluster):
    hashes = random_hashes(1500)
    node = cluster.nodes[0]
    ran = cli(
        "revoke", "--cluster", "--ttl", "60", "--json", "--progress", "none",
        "--redis-url", node.url,
        stdin=lines_of(hashes),
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["succeeded"] == len(cluster.held(hashes, PREFIX)) == 1500
    assert all(cluster.keys_by_node(PREFIX).values())  # every master holds its share


def test_redis_dying_mid_run_lists_every_unsent_hash(make_server, tmp_path):
    server = make_server()
    admin = server.client()
    hashes = random_hashes(500)
    failed_out = tmp_path / "failed.txt"
    process = subprocess.Popen(
        [*command(), "revoke", "--ttl", "60", "--batch-size", "100", "--progress", "none",
         "--json", "--failed-out", str(failed_out), "--socket-timeout", "0.5",
         "--redis-url", server.url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=cli_env(),
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(lines_of(hashes[:200]))
    process.stdin.flush()
    deadline = time.monotonic() + 20
    while len(held(admin, hashes[:200])) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    revoked = held(admin, hashes)
    server.kill()  # as a crash would; the rest of the input comes afterwards
    process.stdin.write(lines_of(hashes[200:]))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, err
    summary = json.loads(out)
    assert summary["succeeded"] == len(revoked) == 200
    assert summary["reasons"] == {"connection": 300}
    assert 0 < summary["not_sent"] < 300  # the first failed batch was sent; later ones not
    assert set(failed_out.read_text().split()) == set(hashes[200:])
