"""What every command says when Redis or a file is not usable: the cause, no traceback, and
the exit code of the README's table (5 for Redis, 4 for the input, 2 for the options)."""

from __future__ import annotations

import json

import pytest

from assertions import held, random_hashes
from token_blacklist.server import free_port

from .conftest import lines_of

COMMANDS = {
    "revoke": ("revoke", "--ttl", "60", "--progress", "none"),
    "check": ("check", "0123456789abcdef"),
    "doctor": ("doctor",),
}


def assert_clean(ran, *secrets: str) -> None:
    """No traceback, nothing a user must not see, each message once."""
    text = ran.out + ran.err
    assert "Traceback" not in text, text
    for secret in secrets:
        assert secret not in text
    lines = [line for line in ran.err.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), ran.err


@pytest.mark.parametrize("name", [*COMMANDS, "demo"])
def test_cluster_seed_that_is_down_exits_5_with_the_cause(cli, name):
    url = f"redis://127.0.0.1:{free_port()}/0"
    args = COMMANDS.get(name, ("demo", "--duration", "1"))
    ran = cli(*args, "--cluster", "--redis-url", url, stdin=lines_of(random_hashes(2)))
    assert ran.code == 5, ran.err
    assert "Connection refused" in ran.err
    assert url.removeprefix("redis://").removesuffix("/0") in ran.err
    assert_clean(ran)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_cluster_against_a_node_that_is_not_a_cluster_exits_5(cli, redis_server, name):
    ran = cli(
        *COMMANDS[name], "--cluster", "--redis-url", redis_server.url,
        stdin=lines_of(random_hashes(2)),
    )  # fmt: skip
    assert ran.code == 5, ran.err
    assert "not a cluster node" in ran.err
    assert_clean(ran)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_refused_port_and_unknown_host_say_so(cli, name):
    refused = cli(*COMMANDS[name], "--redis-url", f"redis://127.0.0.1:{free_port()}/0", stdin="")
    assert refused.code == 5
    assert "Connection refused" in refused.err + refused.out
    unknown = cli(*COMMANDS[name], "--redis-url", "redis://no-such-host.invalid:6379/0", stdin="")
    assert unknown.code == 5
    assert "unknown host" in unknown.err + unknown.out
    assert_clean(refused)
    assert_clean(unknown)


def test_doctor_names_a_wrong_password(cli, acl_server):
    url = f"redis://partial@{acl_server.host}:{acl_server.port}/0"
    ran = cli("doctor", "--redis-url", url, env={"REDIS_PASSWORD": "not-the-password"})
    assert ran.code == 5
    assert "wrong user name or password" in ran.out + ran.err
    assert_clean(ran, "not-the-password")
    as_json = cli("doctor", "--json", "--redis-url", url, env={"REDIS_PASSWORD": "nope-nope"})
    assert as_json.code == 5
    (finding,) = json.loads(as_json.out)["findings"]
    assert finding["check"] == "reachable" and "wrong user name or password" in finding["what"]


def test_a_password_in_the_url_is_warned_about_never_printed(cli, acl_server):
    url = f"redis://partial:partial-pw@{acl_server.host}:{acl_server.port}/0"
    hashes = random_hashes(3, first="0")
    ran = cli("revoke", "--ttl", "60", "--progress", "none", "--redis-url", url,
              stdin=lines_of(hashes))  # fmt: skip
    assert ran.code == 0, ran.err
    assert "REDIS_PASSWORD" in ran.err and "ps" in ran.err
    assert_clean(ran, "partial-pw")
    from_env = cli("revoke", "--ttl", "60", "--progress", "none", stdin=lines_of(hashes),
                   env={"REDIS_URL": url})  # fmt: skip
    assert from_env.code == 0 and "REDIS_PASSWORD" not in from_env.err


@pytest.mark.parametrize("ttl", ["²", "١٢", "1_000", "+5"])
def test_a_ttl_that_is_not_ascii_digits_is_bad_input_on_its_line(cli, redis_server, admin, ttl):
    hashes = random_hashes(3)
    text = f"{hashes[0]} 60\n{hashes[1]} {ttl}\n{hashes[2]} 60\n"
    ran = cli("revoke", "--json", "--progress", "none", "--redis-url", redis_server.url,
              stdin=text)  # fmt: skip
    assert ran.code == 4, ran.err
    summary = json.loads(ran.out)
    assert summary["input_error"] == "line 2: the TTL column is not a whole number of seconds"
    assert held(admin, hashes) == {hashes[0]}
    assert_clean(ran, ttl)


def test_missing_files_are_named(cli, redis_server, tmp_path):
    missing = tmp_path / "nope.txt"
    ran = cli("revoke", "--ttl", "60", "--redis-url", redis_server.url, str(missing))
    assert ran.code == 4
    assert str(missing) in ran.err and "No such file or directory" in ran.err
    hashes = tmp_path / "hashes.txt"
    hashes.write_text(lines_of(random_hashes(2)))
    out = tmp_path / "no-such-dir" / "failed.txt"
    ran = cli("revoke", "--ttl", "60", "--failed-out", str(out), "--redis-url", redis_server.url,
              str(hashes))  # fmt: skip
    assert ran.code == 2
    assert "--failed-out" in ran.err and str(out) in ran.err and "No such file" in ran.err
    assert_clean(ran)


def test_a_subcommand_imports_its_own_module_only_and_help_lists_every_one() -> None:
    import re
    import subprocess
    import sys

    probe = (
        "import sys, token_blacklist.cli as cli\n"
        "cli.build_parser(cli._chosen(sys.argv[1:]))\n"
        "print(sorted(m for m in ('token_blacklist.bench', 'token_blacklist.cli.demo',"
        " 'token_blacklist.cli.doctor', 'token_blacklist.cli.revoke') if m in sys.modules))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe, "revoke", "--ttl", "60"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert ran.stdout.strip() == "['token_blacklist.cli.revoke']"
    ran = subprocess.run(
        [sys.executable, "-c", probe, "--version"], capture_output=True, text=True, check=True
    )
    assert "token_blacklist.cli.demo" in ran.stdout  # no subcommand first: the whole parser
    helped = subprocess.run(
        [sys.executable, "-m", "token_blacklist.cli", "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    for name in ("demo", "revoke", "check", "doctor", "bench", "completion"):
        assert re.search(rf"^    {name}\b", helped.stdout, re.MULTILINE), name
