"""``rediss://`` with ``--tls-ca-file`` against a real TLS redis-server (self-signed CA)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from assertions import held, random_hashes
from token_blacklist.server import RedisServer, free_port

from .conftest import lines_of

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1, and a server with a TLS port."""
    certs = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=certs)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr", cwd=certs)  # fmt: skip
    (certs / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "server.crt",
             cwd=certs)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=revoker",
             "-keyout", "client.key", "-out", "client.csr", cwd=certs)  # fmt: skip
    _openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-out", "client.crt", cwd=certs)  # fmt: skip
    tls_port = free_port()
    config = {
        "tls-port": tls_port,
        "tls-cert-file": str(certs / "server.crt"),
        "tls-key-file": str(certs / "server.key"),
        "tls-ca-cert-file": str(certs / "ca.crt"),
        "tls-auth-clients": "no",
    }
    with RedisServer(config) as server:  # the plain port stays for the launcher's probe
        yield server, tls_port, certs / "ca.crt"


@pytest.fixture(scope="module")
def mtls_server(tls_server):
    """Redis' default: tls-auth-clients yes, a client certificate signed by the CA."""
    _, _, ca = tls_server
    certs = ca.parent
    tls_port = free_port()
    config = {
        "tls-port": tls_port,
        "tls-cert-file": str(certs / "server.crt"),
        "tls-key-file": str(certs / "server.key"),
        "tls-ca-cert-file": str(ca),
        "tls-auth-clients": "yes",
    }
    with RedisServer(config) as server:
        yield server, tls_port, certs


def test_revoke_and_doctor_over_tls(cli, tls_server):
    server, tls_port, ca = tls_server
    url = f"rediss://127.0.0.1:{tls_port}/0"
    hashes = random_hashes(50)
    ran = cli(
        "revoke", "--ttl", "60", "--json", "--progress", "none",
        "--redis-url", url, "--tls-ca-file", str(ca),
        stdin=lines_of(hashes),
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["succeeded"] == len(held(server.client(), hashes)) == 50

    doctor = cli("doctor", "--json", "--no-probe", "--redis-url", url, "--tls-ca-file", str(ca))
    assert doctor.code == 0, doctor.out
    unverified = cli("doctor", "--json", "--no-probe", "--redis-url", url)  # system CAs only
    assert unverified.code == 5
    assert "certificate verify failed" in unverified.out + unverified.err


def test_tls_mistakes_name_their_cause(cli, tls_server):
    _, tls_port, _ = tls_server
    for name in ("revoke", "doctor"):
        extra = ("--ttl", "60", "--progress", "none") if name == "revoke" else ()
        unverified = cli(name, *extra, "--redis-url", f"rediss://127.0.0.1:{tls_port}/0",
                         stdin=lines_of(random_hashes(2)))  # fmt: skip
        assert unverified.code == 5, unverified.err
        assert "certificate verify failed" in unverified.err + unverified.out, name
        plain = cli(name, *extra, "--redis-url", f"redis://127.0.0.1:{tls_port}/0",
                    "--socket-timeout", "1", stdin=lines_of(random_hashes(2)))  # fmt: skip
        assert plain.code == 5, plain.err
        assert "rediss://" in plain.err + plain.out, name  # the hint: this port speaks TLS
        for ran in (unverified, plain):
            assert "Traceback" not in ran.err


def test_mutual_tls_with_a_client_certificate(cli, mtls_server):
    server, tls_port, certs = mtls_server
    url = f"rediss://127.0.0.1:{tls_port}/0"
    hashes = random_hashes(20)
    ran = cli(
        "revoke", "--ttl", "60", "--json", "--progress", "none", "--redis-url", url,
        "--tls-ca-file", str(certs / "ca.crt"),
        "--tls-cert-file", str(certs / "client.crt"), "--tls-key-file", str(certs / "client.key"),
        stdin=lines_of(hashes),
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["succeeded"] == len(held(server.client(), hashes)) == 20
    from_env = cli(
        "check", *hashes[:3], "--redis-url", url,
        env={
            "REDIS_TLS_CA_FILE": str(certs / "ca.crt"),
            "REDIS_TLS_CERT_FILE": str(certs / "client.crt"),
            "REDIS_TLS_KEY_FILE": str(certs / "client.key"),
        },
    )  # fmt: skip
    assert from_env.code == 0, from_env.err
    without = cli("check", hashes[0], "--redis-url", url, "--tls-ca-file", str(certs / "ca.crt"))
    assert without.code == 5 and "Traceback" not in without.err
    half = cli("check", hashes[0], "--redis-url", url, "--tls-cert-file", str(certs / "client.crt"))
    assert half.code == 2 and "--tls-key-file" in half.err
