"""Revoke authentication tokens in Redis, and know exactly which revocations failed."""

from .__about__ import __version__
from .aio import AsyncTokenBlacklist
from .client import TokenBlacklist
from .hashing import hash_token
from .log_context import add_trace_context
from .options import CheckErrorPolicy
from .result import (
    BlacklistResult,
    BlacklistUnavailableError,
    FailureReason,
    InvalidTokenHash,
    PartialBlacklistError,
    TokenBlacklistError,
)
from .subjects import RevokeAllError, RevokeAllResult

__all__ = [
    "AsyncTokenBlacklist",
    "BlacklistResult",
    "BlacklistUnavailableError",
    "CheckErrorPolicy",
    "FailureReason",
    "InvalidTokenHash",
    "PartialBlacklistError",
    "RevokeAllError",
    "RevokeAllResult",
    "TokenBlacklist",
    "TokenBlacklistError",
    "__version__",
    "add_trace_context",
    "hash_token",
]
