"""The operator's typo of issue 13: ``revoke --ttl 86400``, then ``revoke --ttl 5`` of the
same hashes. The second run counts them succeeded and the tokens stay revoked a day."""

from __future__ import annotations

import json

from assertions import PREFIX, random_hashes

from .conftest import lines_of


def test_a_second_revoke_with_a_shorter_ttl_never_shortens(cli, redis_server, admin):
    hashes = random_hashes(1500)
    for ttl in ("86400", "5"):
        ran = cli(
            "revoke", "--ttl", ttl, "--json", "--redis-url", redis_server.url,
            stdin=lines_of(hashes, [None] * len(hashes)),
        )  # fmt: skip
        assert ran.code == 0, ran.err
        summary = json.loads(ran.out)
        assert summary["requested"] == summary["succeeded"] == 1500 and summary["failed"] == 0
    ttls = {admin.ttl(f"{PREFIX}:{h}") for h in hashes[::50]}
    assert min(ttls) > 86_400 - 10, ttls
