"""Sans-IO: what a Redis reply or exception means for a token.

Classification uses exception classes and the reply's status word (``OOM``, ``NOPERM``...),
never the rest of the message, which embeds the command and its key.
"""

from __future__ import annotations

from .._compat import errors
from ..results import FailureReason

__all__ = [
    "EXISTING",
    "REDIS_FAILURES",
    "RETRIABLE",
    "classify_error",
    "classify_extend",
    "classify_reply",
    "classify_set_nx",
    "is_refused",
]

REDIS_FAILURES: tuple[type[BaseException], ...] = (*errors("RedisError"), OSError)
"""What a lost round trip raises: redis-py (or valkey-py) errors, and socket errors they
did not wrap."""

_RESPONSE_ERRORS = errors("ResponseError")

# By class name, in both client libraries (their parsers turn the known error codes into
# these classes and strip the code from the message). Order matters: subclasses first.
_BY_NAME: tuple[tuple[str, FailureReason], ...] = (
    ("OutOfMemoryError", FailureReason.OOM),
    ("NoPermissionError", FailureReason.NOPERM),
    ("ReadOnlyError", FailureReason.READONLY),
    ("AuthenticationError", FailureReason.AUTH),
    ("AuthorizationError", FailureReason.AUTH),
    ("AuthenticationWrongNumberOfArgsError", FailureReason.AUTH),
    ("BusyLoadingError", FailureReason.UNAVAILABLE),
    ("ClusterDownError", FailureReason.CLUSTER_DOWN),
    ("TryAgainError", FailureReason.CLUSTER_DOWN),
    ("AskError", FailureReason.CLUSTER_DOWN),  # MovedError too: a redirect nobody followed
    ("ClusterError", FailureReason.CLUSTER_DOWN),
    ("SlotNotCoveredError", FailureReason.CLUSTER_DOWN),
    ("TimeoutError", FailureReason.TIMEOUT),
    ("ConnectionError", FailureReason.CONNECTION),
)
_BY_CLASS: tuple[tuple[type[BaseException], FailureReason], ...] = (
    *((cls, reason) for name, reason in _BY_NAME for cls in errors(name)),
    (TimeoutError, FailureReason.TIMEOUT),
    (ConnectionError, FailureReason.CONNECTION),
)

_BY_STATUS_WORD: dict[str, FailureReason] = {
    "OOM": FailureReason.OOM,
    "NOPERM": FailureReason.NOPERM,
    "READONLY": FailureReason.READONLY,
    "NOAUTH": FailureReason.AUTH,
    "WRONGPASS": FailureReason.AUTH,
    "LOADING": FailureReason.UNAVAILABLE,
    "BUSY": FailureReason.UNAVAILABLE,
    "MASTERDOWN": FailureReason.UNAVAILABLE,
    "NOREPLICAS": FailureReason.UNAVAILABLE,  # min-replicas-to-write, or a WAIT not met
    "CLUSTERDOWN": FailureReason.CLUSTER_DOWN,
    "TRYAGAIN": FailureReason.CLUSTER_DOWN,
}

RETRIABLE: frozenset[FailureReason] = frozenset(
    {
        FailureReason.CONNECTION,
        FailureReason.TIMEOUT,
        FailureReason.READONLY,  # a failover in flight: the next attempt may reach the new primary
        FailureReason.CLUSTER_DOWN,
        FailureReason.UNAVAILABLE,
    }
)
"""Reasons whose outcome may change on a re-send; the others are final for this call."""


def classify_error(error: BaseException) -> FailureReason:
    """The reason for an exception raised by, or returned from, a Redis command."""
    for cls, reason in _BY_CLASS:
        if isinstance(error, cls):
            return reason
    status = getattr(error, "status_code", None)
    if isinstance(status, str) and status in _BY_STATUS_WORD:
        return _BY_STATUS_WORD[status]
    if isinstance(error, _RESPONSE_ERRORS) and error.args and isinstance(error.args[0], str):
        # Unmapped prefixes (BUSY, CLUSTERDOWN on a plain client) keep the status word first.
        word = error.args[0].split(" ", 1)[0]
        return _BY_STATUS_WORD.get(word, FailureReason.OTHER)
    return FailureReason.OTHER


def classify_reply(reply: object) -> FailureReason | None:
    """None when a ``SET key 1 EX ttl`` reply acknowledges the write, else the reason."""
    if reply is True or reply in (b"OK", "OK"):
        return None
    if isinstance(reply, BaseException):
        return classify_error(reply)
    return FailureReason.OTHER


class _Existing:
    """The nil reply of ``SET ... NX``: the key is there, its expiry still to be checked."""

    def __repr__(self) -> str:
        return "EXISTING"


EXISTING = _Existing()


def classify_set_nx(reply: object) -> FailureReason | _Existing | None:
    """A ``SET key 1 EX ttl NX`` reply: None (written), :data:`EXISTING` (the key was
    there: nothing written, see :func:`classify_extend`) or the failure reason."""
    if reply is None:
        return EXISTING
    return classify_reply(reply)


def classify_extend(expire_reply: object, set_reply: object) -> FailureReason | None:
    """The replies of ``EXPIRE key ttl GT`` then ``SET key 1 EX ttl NX`` for a key found
    present: None when the key now lives at least ``ttl`` seconds, else the reason.

    ``EXPIRE ... GT`` answers 1 (lengthened) or 0 (the expiry is already longer, or the key
    has none, or the key is gone); then the ``SET ... NX`` answers nil when the key exists
    (so one of the first two) or writes it afresh (the third). Either way it is there for
    at least ``ttl`` seconds.
    """
    if isinstance(expire_reply, BaseException):
        return classify_error(expire_reply)
    if isinstance(set_reply, BaseException):
        return classify_error(set_reply)
    if not isinstance(expire_reply, int):  # bool is an int: redis-py maps EXPIRE to bool
        return FailureReason.OTHER
    if set_reply is None:
        return None
    return classify_reply(set_reply)


def is_refused(error: BaseException) -> bool:
    """True when nothing is listening: re-sending at once cannot help.

    redis-py raises its ``ConnectionError`` inside ``except OSError``, so the socket's
    ``ConnectionRefusedError`` is the implicit context (or the explicit cause).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
