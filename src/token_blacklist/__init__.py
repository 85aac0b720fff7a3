"""Revoke authentication tokens in Redis, and know exactly which revocations failed."""

from .__about__ import __version__
from ._async.client import AsyncTokenBlacklist
from ._core.check_cache import CheckCache
from ._observability.log_context import add_trace_context
from ._options import CheckErrorPolicy
from ._sync.client import TokenBlacklist
from .errors import (
    BlacklistStreamError,
    BlacklistUnavailableError,
    InvalidClockSkew,
    InvalidInput,
    InvalidInputType,
    InvalidIssuedAt,
    InvalidSubject,
    InvalidTokenHash,
    InvalidTTL,
    PartialBlacklistError,
    RevokeAllError,
    TokenBlacklistError,
    UnsupportedServerError,
)
from .hashing import hash_token
from .results import BlacklistResult, FailureReason, RevokeAllResult

__all__ = [
    "AsyncTokenBlacklist",
    "BlacklistResult",
    "BlacklistStreamError",
    "BlacklistUnavailableError",
    "CheckCache",
    "CheckErrorPolicy",
    "FailureReason",
    "InvalidClockSkew",
    "InvalidInput",
    "InvalidInputType",
    "InvalidIssuedAt",
    "InvalidSubject",
    "InvalidTTL",
    "InvalidTokenHash",
    "PartialBlacklistError",
    "RevokeAllError",
    "RevokeAllResult",
    "TokenBlacklist",
    "TokenBlacklistError",
    "UnsupportedServerError",
    "__version__",
    "add_trace_context",
    "hash_token",
]
