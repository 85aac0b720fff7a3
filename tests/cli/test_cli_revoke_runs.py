"""``token-blacklist revoke`` as an incident uses it: stopped half-way, dry runs, odd bytes,
logs where the user wants them, metrics pushed where the dashboards look.

Each test checks what Redis holds afterwards against what the command said.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from assertions import held, random_hashes
from token_blacklist.server import _die_with_parent, free_port

from .conftest import cli_env, command, lines_of

PREFIX = "token_blacklist"


def _write_input(path: Path, hashes: list[str]) -> Path:
    path.write_text(lines_of(hashes), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_names_its_line_and_lists_every_unconfirmed_hash(
    cli, redis_server, admin, tmp_path, stop
):
    hashes = random_hashes(150_000)
    source = _write_input(tmp_path / "hashes.txt", hashes)
    failed_out = tmp_path / "failed.txt"
    process = subprocess.Popen(
        [*command(), "revoke", "--ttl", "600", "--batch-size", "1000", "--json",
         "--progress", "none", "--failed-out", str(failed_out),
         "--redis-url", redis_server.url, str(source)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while admin.dbsize() < 5000 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(stop)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    summary = json.loads(out)
    line = summary["resume_from"]
    assert summary["interrupted"] is True and 5000 < line <= len(hashes), summary
    in_redis = held(admin, hashes)
    listed = set(failed_out.read_text().split())
    read = set(hashes[: line - 1])
    # What was reported is what Redis holds; every line read is confirmed or listed.
    assert summary["succeeded"] == len(in_redis) == admin.dbsize()
    assert in_redis <= read and read - in_redis <= listed <= read
    assert len(listed) == summary["unconfirmed"] + summary["failed"]
    assert f"--resume-from {line} {source}" in err and f"input line {line:,}" in err
    assert not any(h in err for h in hashes[:100])

    # The documented way to finish: the listed hashes, then the rest of the input.
    for args in ([str(failed_out)], ["--resume-from", str(line), str(source)]):
        ran = cli("revoke", "--ttl", "600", "--json", "--progress", "none",
                  "--redis-url", redis_server.url, *args)  # fmt: skip
        assert ran.code == 0, ran.err
    assert held(admin, hashes) == set(hashes) and admin.dbsize() == len(hashes)


def test_dry_run_validates_and_counts_and_sends_nothing(cli, redis_server, admin, tmp_path):
    hashes = random_hashes(2500)
    source = _write_input(tmp_path / "hashes.txt", hashes + hashes[:7])
    ran = cli("revoke", "--dry-run", "--ttl", "60", "--json", "--redis-url", redis_server.url,
              str(source))  # fmt: skip
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["dry_run"] is True and summary["exit_code"] == 0
    assert summary["entries"] == 2507 and summary["failed"] == 0
    assert admin.dbsize() == 0
    text = cli("revoke", "--dry-run", "--ttl", "60", str(source))  # no Redis needed at all
    assert text.code == 0, text.err
    assert "nothing was sent" in text.out

    bad = tmp_path / "bad.txt"
    bad.write_text(lines_of(hashes[:3]) + "not-a-hash!\n", encoding="utf-8")
    stopped = cli("revoke", "--dry-run", "--ttl", "60", str(bad))
    assert stopped.code == 4
    assert "line 4" in stopped.err and "every line before it was validated" in stopped.err
    assert admin.dbsize() == 0


@pytest.mark.parametrize("good_lines", [30_000, 1])
def test_a_byte_that_is_not_utf8_stops_on_its_own_line(
    cli, redis_server, admin, tmp_path, good_lines
):
    hashes = random_hashes(good_lines)
    source = tmp_path / "hashes.txt"
    after = lines_of(random_hashes(3)).encode()
    source.write_bytes(lines_of(hashes).encode() + b"abc\xffdef\n" + after)
    ran = cli("revoke", "--ttl", "60", "--json", "--progress", "none",
              "--redis-url", redis_server.url, str(source))  # fmt: skip
    assert ran.code == 4, ran.err
    summary = json.loads(ran.out)
    assert summary["input_error"].startswith(f"line {good_lines + 1}: ")
    assert summary["succeeded"] == good_lines == len(held(admin, hashes)) == admin.dbsize()


def test_duplicate_lines_are_counted_not_silently_merged(cli, redis_server, admin):
    hashes = random_hashes(10)
    ran = cli("revoke", "--ttl", "60", "--redis-url", redis_server.url,
              stdin=lines_of(hashes + hashes[:4]))  # fmt: skip
    assert ran.code == 0, ran.err
    assert "duplicate lines merged: 4" in ran.out
    assert admin.dbsize() == 10


def test_library_events_go_where_log_format_says(cli, redis_server, admin):
    hashes = random_hashes(300)
    quiet = cli("revoke", "--ttl", "60", "--batch-size", "100", "--redis-url", redis_server.url,
                stdin=lines_of(hashes))  # fmt: skip
    assert quiet.code == 0, quiet.err
    assert not [line for line in quiet.err.splitlines() if line.startswith("{")]

    logged = cli("revoke", "--ttl", "60", "--batch-size", "100", "--log-format", "json",
                 "--log-level", "debug", "--progress", "none", "--redis-url", redis_server.url,
                 stdin=lines_of(hashes))  # fmt: skip
    assert logged.code == 0, logged.err
    events = [json.loads(line) for line in logged.err.splitlines() if line.startswith("{")]
    assert len(events) == 3  # one event a batch call
    assert sum(e["succeeded"] for e in events) == 300 == admin.dbsize()
    assert not any(h in logged.err for h in hashes)
    for line in logged.out.splitlines() + quiet.out.splitlines():
        assert len(line) < 200  # plain unwrapped lines on a pipe


@pytest.fixture
def pushgateway(tmp_path):
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if binary is None:
        pytest.skip("no prometheus-pushgateway (Debian package prometheus-pushgateway)")
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "pushgateway.log").open("wb"),
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - gone if pytest is killed
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_run_pushes_its_metrics_to_the_pushgateway(cli, acl_server, pushgateway):
    from conftest import PARTIAL_USER

    admin = acl_server.client()
    admin.flushall()
    hashes = random_hashes(1200)
    user, password = PARTIAL_USER
    ran = cli("revoke", "--ttl", "60", "--json", "--progress", "none",
              "--pushgateway", pushgateway, "--pushgateway-job", "incident-42",
              "--redis-url", f"redis://{user}@{acl_server.host}:{acl_server.port}/0",
              stdin=lines_of(hashes), env={"REDIS_PASSWORD": password})  # fmt: skip
    assert ran.code == 3, ran.err
    summary = json.loads(ran.out)
    samples = _scrape(pushgateway)

    def value(name: str, **labels: str) -> float:
        key = (name, tuple(sorted({"job": "incident-42", "instance": "", **labels}.items())))
        return samples[key]

    in_redis = len(held(admin, hashes))
    assert value("token_blacklist_tokens_total", outcome="succeeded") == summary["succeeded"]
    assert summary["succeeded"] == in_redis
    assert value("token_blacklist_tokens_total", outcome="failed") == summary["failed"] > 0
    assert value("token_blacklist_token_failures_total", reason="noperm") == summary["failed"]
    assert value("token_blacklist_revoke_exit_code") == 3
    assert value("token_blacklist_revoke_unconfirmed_tokens") == summary["failed"]
    admin.close()


def test_an_unreachable_pushgateway_is_a_warning_not_a_failure(cli, redis_server, admin):
    ran = cli("revoke", "--ttl", "60", "--progress", "none",
              "--pushgateway", f"http://127.0.0.1:{free_port()}", "--redis-url", redis_server.url,
              stdin=lines_of(random_hashes(5)))  # fmt: skip
    assert ran.code == 0, ran.err
    assert "warning: could not push metrics" in ran.err
    assert admin.dbsize() == 5
