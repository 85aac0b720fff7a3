"""Turn a raw token into the hash the blacklist stores."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["hash_token"]


def hash_token(token: str | bytes, *, key: bytes | None = None) -> str:
    """SHA-256 of ``token`` as 64 lowercase hex characters; HMAC-SHA-256 when ``key`` is given.

    Store and check this, never the raw token: Redis keys show up in ``MONITOR``, slow logs,
    backups and error messages. With ``key`` (a server-side secret), a leaked key set cannot
    even be checked against tokens guessed or seen elsewhere.
    """
    if isinstance(token, str):
        data = token.encode("utf-8")
    elif isinstance(token, bytes | bytearray | memoryview):
        data = bytes(token)
    else:
        raise TypeError(f"token must be str or bytes, not {type(token).__name__}")
    if not data:
        raise ValueError("token is empty")
    if key is None:
        return hashlib.sha256(data).hexdigest()
    if not isinstance(key, bytes | bytearray) or not key:
        raise TypeError("key must be non-empty bytes")
    return hmac.new(bytes(key), data, hashlib.sha256).hexdigest()
