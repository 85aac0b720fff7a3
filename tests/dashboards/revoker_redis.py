"""The Redis of the dashboards tests: an ACL user that may write only part of the prefix."""

from __future__ import annotations

PREFIX = "token_blacklist"
REVOKER = ("revoker", "revoker-pw")
# The revoker may touch only keys whose hash starts with 0-7: about half of random hashes
# fail with NOPERM, as a mis-scoped production ACL would make them.
ACL = [
    "default on nopass ~* &* +@all",
    f"{REVOKER[0]} on >{REVOKER[1]} ~{PREFIX}:[0-7]* resetchannels +@connection "
    "+set +expire +exists",
]
