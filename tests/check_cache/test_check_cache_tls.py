"""``check_cache=`` over TLS: the invalidation link connects as the client does.

Against a real redis-server with a TLS port and a self-signed CA (the fixtures of the CLI's
TLS tests), for the blocking client and the asyncio one, with server-only TLS and with a
client certificate (mutual TLS). The link must come up over TLS with the client's own
settings (CA, certificate, credentials), carry invalidations within the bound, and, when
it cannot verify the server, never answer a check from memory, never hang, and log no
secret.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import shutil
import ssl
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from redis.backoff import NoBackoff

from assertions import random_hashes
from cli.test_cli_tls import _openssl, mtls_server, tls_server
from token_blacklist import (
    AsyncTokenBlacklist,
    BlacklistUnavailableError,
    CheckCache,
    TokenBlacklist,
)
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

__all__ = ["mtls_server", "tls_server"]  # the fixtures, imported for this module's tests

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

BOUND = 0.2
CACHE = CheckCache(max_entries=1_000, max_staleness=BOUND)
LINK = "token_blacklist-check_cache"  # the link's CLIENT SETNAME, as CLIENT LIST shows it
USER, PASSWORD = "cache-user", "tls-link-s3cret-pw"
LINK_EVENT = "token_blacklist.check_cache_link"


def sample(capture: TelemetryCapture, result: str) -> float:
    return capture.sample("token_blacklist_check_cache_total", result=result)


def link_up(capture: TelemetryCapture) -> float | None:
    return capture.registry.get_sample_value("token_blacklist_check_cache_link_up")


def losses(capture: TelemetryCapture) -> float:
    return capture.sample("token_blacklist_check_cache_link_losses_total")


class Checker:
    """A blacklist with a check cache over ``kwargs``' client, blocking or asyncio. The
    asyncio one lives on a loop that runs in a thread of its own, always (as a server's
    does), so its link task runs between two checks too. ``fail_fast``: redis-py retries
    nothing (its default retries a refused handshake for seconds)."""

    def __init__(
        self, flavour: str, kwargs: dict[str, Any], capture: TelemetryCapture,
        fail_fast: bool = False, **options: Any,
    ) -> None:  # fmt: skip
        self.flavour = flavour
        if fail_fast:
            retry = redis.retry.Retry if flavour == "sync" else redis.asyncio.retry.Retry
            kwargs = {**kwargs, "retry": retry(NoBackoff(), 0)}
        options = {**capture.kwargs(), "check_cache": CACHE, **options}
        if flavour == "sync":
            self.client: Any = redis.Redis(**kwargs)
            self.blacklist: Any = TokenBlacklist(self.client, **options)
            return
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def build() -> tuple[Any, Any]:
            client = redis.asyncio.Redis(**kwargs)
            return client, AsyncTokenBlacklist(client, **options)

        self.client, self.blacklist = self._run(build())

    def _run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 15.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def is_blacklisted(self, token_hash: str) -> bool:
        if self.flavour == "sync":
            return bool(self.blacklist.is_blacklisted(token_hash))

        async def check() -> bool:
            outcome = self.blacklist.is_blacklisted(token_hash)
            return bool(await outcome if inspect.isawaitable(outcome) else outcome)

        return bool(self._run(check()))

    def close(self) -> None:
        started = time.monotonic()
        if self.flavour == "sync":
            self.blacklist.close()
            self.client.close()
        else:
            self._run(self.blacklist.aclose())
            self._run(self.client.aclose())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            assert not self.thread.is_alive()
            self.loop.close()
        assert time.monotonic() - started < 6, "closing the check cache hung"


def wait_serving(checker: Checker, capture: TelemetryCapture, timeout: float = 5.0) -> None:
    """Until a check is answered from memory: the link is up and fresh."""
    token_hash = random_hashes(1)[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = sample(capture, "hit")
        checker.is_blacklisted(token_hash)
        if sample(capture, "hit") > hits:
            return
        time.sleep(0.01)
    pytest.fail(f"the check cache never served over TLS; link events: {capture.events(LINK_EVENT)}")


def link_clients(admin: redis.Redis) -> list[dict[str, Any]]:
    return [c for c in admin.client_list() if c.get("name") == LINK]


def assert_no_secret(capture: TelemetryCapture, caplog: pytest.LogCaptureFixture, certs: Path):
    said = repr(capture.logs) + caplog.text
    key = (certs / "client.key").read_text()
    body = key.splitlines()[1]  # a line of the private key itself
    for secret in (PASSWORD, "PRIVATE KEY", body):
        assert secret not in said, f"a secret in the logs: {secret[:12]}..."


@pytest.fixture
def endpoint(request, tls_server, mtls_server) -> Iterator[tuple[RedisServer, int, dict]]:
    """(server, TLS port, client kwargs) for server-only TLS or mutual TLS; the server has
    a user with a password (the link authenticates with HELLO AUTH over TLS)."""
    server, tls_port, ca = tls_server
    kwargs: dict[str, Any] = {"ssl": True, "ssl_ca_certs": str(ca)}
    if request.param == "mtls":
        server, tls_port, certs = mtls_server
        kwargs["ssl_certfile"] = str(certs / "client.crt")
        kwargs["ssl_keyfile"] = str(certs / "client.key")
    admin = server.client()  # the plain port, kept by the fixtures for the launcher's probe
    admin.flushall()
    admin.acl_setuser(
        USER, enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], channels=["*"],
        commands=["+@all"], reset=True,
    )  # fmt: skip
    kwargs.update(
        host=server.host, port=tls_port, username=USER, password=PASSWORD,
        socket_timeout=2, socket_connect_timeout=2,
    )  # fmt: skip
    yield server, tls_port, kwargs
    admin.close()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> Path:
    """A CA that signed nothing the servers present."""
    certs = tmp_path_factory.mktemp("other-ca")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=certs)  # fmt: skip
    return certs / "ca.crt"


FLAVOURS = pytest.mark.parametrize("flavour", ["sync", "asyncio"])
ENDPOINTS = pytest.mark.parametrize("endpoint", ["tls", "mtls"], indirect=True)


@FLAVOURS
@ENDPOINTS
def test_the_link_runs_over_tls_and_carries_revocations(flavour, endpoint, caplog):
    server, tls_port, kwargs = endpoint
    caplog.set_level(logging.DEBUG)
    capture = TelemetryCapture()
    writer = TokenBlacklist(server.client())  # another client, another connection
    checker = Checker(flavour, kwargs, capture)
    admin = server.client()
    try:
        revoked, later = random_hashes(2)
        writer.blacklist_tokens([revoked], ttl=600)
        wait_serving(checker, capture)
        assert link_up(capture) == 1.0

        # (2) The link is the TLS port's client, by the name it gave itself, as the user.
        links = link_clients(admin)
        assert len(links) == 1, links
        assert links[0]["laddr"].rpartition(":")[2] == str(tls_port), links[0]
        assert links[0]["user"] == USER
        assert "t" in links[0]["flags"], links[0]  # tracking on

        # (1) A revoked hash is reported revoked, from memory once cached.
        assert checker.is_blacklisted(revoked) is True  # a miss, stored
        hits = sample(capture, "hit")
        assert checker.is_blacklisted(revoked) is True
        assert sample(capture, "hit") == hits + 1

        # A hash cached as not revoked, then revoked by the other client: seen in the bound.
        assert checker.is_blacklisted(later) is False
        hits = sample(capture, "hit")
        assert checker.is_blacklisted(later) is False
        assert sample(capture, "hit") == hits + 1, "the 'not revoked' answer was not cached"
        lost = losses(capture)
        writer.blacklist_tokens([later], ttl=600)
        deadline = time.monotonic() + BOUND + 1.0
        while not checker.is_blacklisted(later):
            assert time.monotonic() < deadline, "the revocation never reached the cache"
            time.sleep(0.005)
        # By the link's invalidation, not by a lost link: it stayed up and serves the news.
        assert losses(capture) == lost and link_up(capture) == 1.0
        hits = sample(capture, "hit")
        assert checker.is_blacklisted(later) is True
        assert sample(capture, "hit") == hits + 1
        ups = [e for e in capture.events(LINK_EVENT) if e.get("state") == "up"]
        assert ups and not [e for e in capture.events(LINK_EVENT) if e.get("state") == "down"]
        assert_no_secret(capture, caplog, Path(kwargs["ssl_ca_certs"]).parent)
    finally:
        checker.close()
        writer.close()
        admin.close()
    assert not link_clients(server.client()), "the link outlived close()"


@FLAVOURS
@ENDPOINTS
def test_a_server_it_cannot_verify_is_never_answered_from_memory(
    flavour, endpoint, other_ca, caplog
):
    server, _, kwargs = endpoint
    caplog.set_level(logging.DEBUG)
    capture = TelemetryCapture()
    checker = Checker(
        flavour, {**kwargs, "ssl_ca_certs": str(other_ca)}, capture, fail_fast=True, retries=0
    )
    admin = server.client()
    token_hash = random_hashes(1)[0]
    try:
        admin.set(f"token_blacklist:{token_hash}", 1, ex=600)
        seen: list[float] = []
        end = time.monotonic() + 1.5  # the link retries meanwhile (backoff from 20 ms)
        while time.monotonic() < end:
            started = time.monotonic()
            with pytest.raises(BlacklistUnavailableError):  # the policy: raise
                checker.is_blacklisted(token_hash)
            seen.append(time.monotonic() - started)
            time.sleep(0.02)
        assert len(seen) > 5 and max(seen) < 1, f"a check hung: {max(seen):.1f} s"
        assert sample(capture, "hit") == 0
        assert sample(capture, "bypass") >= len(seen)
        assert link_up(capture) in (None, 0.0)
        assert not link_clients(admin)
        events = capture.events(LINK_EVENT)
        assert not [e for e in events if e.get("state") == "up"], events
        down = [e for e in events if e.get("state") == "down"]
        assert down and "SSL" in down[0]["error_type"], down
        assert_no_secret(capture, caplog, Path(kwargs["ssl_ca_certs"]).parent)
    finally:
        checker.close()
        admin.close()


@FLAVOURS
@ENDPOINTS
def test_a_link_that_can_no_longer_verify_leaves_checks_to_redis(
    flavour, endpoint, other_ca, tmp_path, caplog
):
    """The CA file replaced by a wrong one while the client's connection stays up: the link,
    cut, cannot come back; every check is answered by Redis, right, until the CA is back."""
    server, _, kwargs = endpoint
    caplog.set_level(logging.DEBUG)
    ca = tmp_path / "ca.crt"
    good = Path(kwargs["ssl_ca_certs"]).read_bytes()
    ca.write_bytes(good)
    capture = TelemetryCapture()
    checker = Checker(flavour, {**kwargs, "ssl_ca_certs": str(ca)}, capture)
    writer = TokenBlacklist(server.client())
    admin = server.client()
    try:
        token_hash = random_hashes(1)[0]
        wait_serving(checker, capture)
        assert checker.is_blacklisted(token_hash) is False  # cached as not revoked
        lost, logged = losses(capture), len(capture.logs)
        ca.write_bytes(other_ca.read_bytes())
        (link,) = link_clients(admin)
        admin.client_kill_filter(_id=link["id"])  # only the link: the pool's stays
        deadline = time.monotonic() + 5
        while losses(capture) == lost:
            assert time.monotonic() < deadline, "the link's loss was never noticed"
            time.sleep(0.005)
        hits, bypass = sample(capture, "hit"), sample(capture, "bypass")
        assert checker.is_blacklisted(token_hash) is False  # from Redis
        writer.blacklist_tokens([token_hash], ttl=600)
        answers: list[bool] = []
        end = time.monotonic() + 1.5  # several reconnections of the link, all refused
        while time.monotonic() < end:
            answers.append(checker.is_blacklisted(token_hash))
            time.sleep(0.01)
        assert all(answers), "a revocation acknowledged by Redis was answered 'not revoked'"
        assert sample(capture, "hit") == hits
        assert sample(capture, "bypass") >= bypass + len(answers) + 1
        assert link_up(capture) == 0.0 and not link_clients(admin)
        # A link that stays down is reported once (the cut), and never up meanwhile.
        events = [e for e in capture.logs[logged:] if e.get("event") == LINK_EVENT]
        assert [e["state"] for e in events] == ["down"], events
        assert_no_secret(capture, caplog, Path(kwargs["ssl_ca_certs"]).parent)

        ca.write_bytes(good)  # the right CA again: the link comes back, over TLS
        wait_serving(checker, capture)
        assert checker.is_blacklisted(token_hash) is True
        assert len(link_clients(admin)) == 1
    finally:
        checker.close()
        admin.close()


@FLAVOURS
def test_host_names_are_verified_as_the_client_verifies_them(flavour, tls_server, caplog):
    """The certificate names 127.0.0.1 only: by "localhost", redis-py refuses the server
    (ssl_check_hostname defaults to True), and so does the link; told not to check host
    names, the client connects, and so does the link."""
    _, tls_port, ca = tls_server
    kwargs = {"host": "localhost", "port": tls_port, "ssl": True, "ssl_ca_certs": str(ca),
              "socket_timeout": 2, "socket_connect_timeout": 2}  # fmt: skip
    capture = TelemetryCapture()
    checker = Checker(flavour, kwargs, capture, fail_fast=True, retries=0)
    try:
        token_hash = random_hashes(1)[0]
        for _ in range(20):
            with pytest.raises(BlacklistUnavailableError):
                checker.is_blacklisted(token_hash)
            time.sleep(0.02)
        assert sample(capture, "hit") == 0 and link_up(capture) in (None, 0.0)
        down = [e for e in capture.events(LINK_EVENT) if e.get("state") == "down"]
        assert down and "SSL" in down[0]["error_type"], down
    finally:
        checker.close()
    capture = TelemetryCapture()
    checker = Checker(flavour, {**kwargs, "ssl_check_hostname": False}, capture)
    try:
        wait_serving(checker, capture)
    finally:
        checker.close()


@FLAVOURS
def test_a_ca_given_as_data_is_the_links_too(flavour, tls_server):
    """``ssl_ca_data`` (the PEM itself, no file): the link verifies with it, as the pool."""
    server, tls_port, ca = tls_server
    kwargs = {"host": server.host, "port": tls_port, "ssl": True,
              "ssl_ca_data": ca.read_text(), "socket_timeout": 2}  # fmt: skip
    capture = TelemetryCapture()
    checker = Checker(flavour, kwargs, capture)
    writer = TokenBlacklist(server.client())
    try:
        token_hash = random_hashes(1)[0]
        wait_serving(checker, capture)
        assert checker.is_blacklisted(token_hash) is False
        writer.blacklist_tokens([token_hash], ttl=600)
        deadline = time.monotonic() + BOUND + 1.0
        while not checker.is_blacklisted(token_hash):
            assert time.monotonic() < deadline, "the revocation never reached the cache"
            time.sleep(0.005)
    finally:
        checker.close()
        writer.close()


@FLAVOURS
def test_the_clients_extra_verification_binds_the_link_too(flavour, tls_server):
    """``ssl_include_verify_flags=[VERIFY_CRL_CHECK_LEAF]`` with no CRL: redis-py refuses
    the server (no CRL to check the certificate against); the link must refuse it too, never
    serve from a connection the client's own settings reject."""
    server, tls_port, ca = tls_server
    kwargs = {"host": server.host, "port": tls_port, "ssl": True, "ssl_ca_certs": str(ca),
              "ssl_include_verify_flags": [ssl.VERIFY_CRL_CHECK_LEAF],
              "socket_timeout": 2}  # fmt: skip
    capture = TelemetryCapture()
    checker = Checker(flavour, kwargs, capture, fail_fast=True, retries=0)
    admin = server.client()
    try:
        token_hash = random_hashes(1)[0]
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            with pytest.raises(BlacklistUnavailableError):
                checker.is_blacklisted(token_hash)
            time.sleep(0.02)
        assert sample(capture, "hit") == 0 and link_up(capture) in (None, 0.0)
        assert not link_clients(admin)
    finally:
        checker.close()
        admin.close()
