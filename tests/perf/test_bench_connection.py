"""``token-blacklist bench`` takes the connection options of every other command (issue 14,
bug 7): TLS with ``--tls-ca-file`` or ``$REDIS_TLS_CA_FILE``, and an unusable Redis is a
one-line message with exit code 5, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from token_blacklist.server import RedisServer, free_port

TINY = ["--tiny", "--json"]


def _bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "OTEL_"))}
    return subprocess.run(
        [sys.executable, "-m", "token_blacklist.cli", "bench", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean, **(env or {})},
        check=False,
    )


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1, and a server with a TLS port."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    certs = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=certs)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr", cwd=certs)  # fmt: skip
    (certs / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "server.crt",
             cwd=certs)  # fmt: skip
    tls_port = free_port()
    config = {
        "tls-port": tls_port,
        "tls-cert-file": str(certs / "server.crt"),
        "tls-key-file": str(certs / "server.key"),
        "tls-ca-cert-file": str(certs / "ca.crt"),
        "tls-auth-clients": "no",
    }
    with RedisServer(config) as server:
        yield server, f"rediss://127.0.0.1:{tls_port}/0", str(certs / "ca.crt")


def _assert_ran_against(completed: subprocess.CompletedProcess[str], server: RedisServer) -> None:
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["redis"] == "--redis-url"
    assert report["settings"]["client_kwargs"] == ["socket_connect_timeout", "socket_timeout",
                                                   "ssl_ca_certs"]  # fmt: skip
    # The keys are on the TLS server: the bench did not fall back to a private one.
    assert server.client().dbsize() > 0


def test_bench_over_tls_with_the_ca_file_from_the_environment(tls_server) -> None:
    server, url, ca = tls_server
    server.client().flushall()
    completed = _bench(*TINY, env={"REDIS_URL": url, "REDIS_TLS_CA_FILE": ca})
    _assert_ran_against(completed, server)
    report = json.loads(completed.stdout)
    assert report["memory"]["succeeded"] == 5000  # the child interpreter got the CA too
    assert report["cases"]["cli.revoke"]["units"] == 2000  # and so did the revoke command


def test_bench_over_tls_with_the_ca_file_option(tls_server) -> None:
    server, url, ca = tls_server
    server.client().flushall()
    completed = _bench(*TINY, "--memory-count", "0", "--cli-count", "0",
                       "--redis-url", url, "--tls-ca-file", ca)  # fmt: skip
    _assert_ran_against(completed, server)


@pytest.mark.parametrize(
    "where",
    ["unreachable", "tls-without-ca", "plain-url-on-tls-port"],
)
def test_an_unusable_redis_is_one_line_and_exit_5(tls_server, where: str) -> None:
    _server, url, _ca = tls_server
    urls = {
        "unreachable": f"redis://127.0.0.1:{free_port()}/0",
        "tls-without-ca": url,  # a self-signed CA the system does not trust
        "plain-url-on-tls-port": url.replace("rediss://", "redis://"),
    }
    completed = _bench(*TINY, "--socket-timeout", "1", "--redis-url", urls[where])
    assert completed.returncode == 5, completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stderr.startswith("token-blacklist bench: Redis at ")
    assert completed.stdout == ""


def test_usage_errors_are_exit_2_without_traceback() -> None:
    cluster = _bench(*TINY, "--cluster", "--redis-url", "redis://127.0.0.1:1/0")
    ca_without_tls = _bench(*TINY, "--tls-ca-file", "/etc/hostname")
    for completed in (cluster, ca_without_tls):
        assert completed.returncode == 2, completed.stderr
        assert "Traceback" not in completed.stderr


def test_the_text_report_speaks_to_its_reader() -> None:
    completed = _bench("--tiny", "--memory-count", "0", "--cli-count", "0")
    assert completed.returncode == 0, completed.stderr
    assert "issue" not in completed.stdout
    assert "floor of this machine" in completed.stdout


def test_only_the_report_goes_to_stdout(monkeypatch, capsys) -> None:
    """Whatever the run prints (an unconfigured structlog's warning, say) goes to stderr:
    ``--json`` output stays one JSON document."""
    import json

    from token_blacklist.cli import bench, main

    def run_bench(settings, url):  # the real run's output channel, not its measurements
        print("2026-12-02 07:28:52 [warning  ] token_blacklist.check_cache_link state=down")
        return {"targets": []}

    monkeypatch.setattr(bench, "run_bench", run_bench)
    monkeypatch.setattr(bench, "print_report", lambda report, as_json: print(json.dumps(report)))
    assert main(["bench", "--json", "--tiny"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"targets": []}
    assert "check_cache_link" in captured.err
