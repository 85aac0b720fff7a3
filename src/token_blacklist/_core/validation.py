"""Sans-IO input validation: caller input -> a plan of distinct hashes and their TTLs,
and the range checks every other input goes through (options, TTLs, times, batch sizes).

Everything is checked before a single command is built, so bad input can never leave a
call half-written. Error messages name the position of the offending item, never its
value: a mistaken caller may be passing raw tokens.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import InvalidTokenHash, InvalidTTL

__all__ = [
    "HASH_MAX_LENGTH",
    "HASH_MIN_LENGTH",
    "MAX_TTL_SECONDS",
    "BlacklistPlan",
    "check_int",
    "check_number",
    "plan_blacklist",
    "plan_check",
    "validate_hash",
    "validate_prefix",
    "validate_ttl",
]

HASH_MIN_LENGTH = 8
HASH_MAX_LENGTH = 128
"""Hex or base64url digests from 32-bit truncations up to SHA-512 in hex."""
MAX_TTL_SECONDS = 10 * 366 * 24 * 3600
"""Ten years: longer than any sane token lifetime, and far from Redis' own EX limit."""

_HASH_CHARS = re.compile(r"[A-Za-z0-9_-]+")
# Every rule of _hash_problem at once (a JWT has dots, so it never matches): the fast path.
_VALID_HASH = re.compile(rf"[A-Za-z0-9_-]{{{HASH_MIN_LENGTH},{HASH_MAX_LENGTH}}}")
_PREFIX_CHARS = re.compile(r"[!-~]+")  # printable ASCII without space
# A compact JWS/JWE: base64url segments separated by dots, header starting with '{"' -> 'eyJ'.
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*")

TtlSpec = int | Mapping[str, int]


@dataclass(frozen=True, slots=True)
class BlacklistPlan:
    """Validated input: distinct hashes in input order and the TTL of each."""

    hashes: list[str]
    ttl: int | dict[str, int]
    """One TTL for all, or each hash's own (only the requested hashes are kept)."""

    def ttls(self, hashes: Sequence[str]) -> list[int]:
        """The TTLs of ``hashes``, in order."""
        ttl = self.ttl
        if isinstance(ttl, int):
            return [ttl] * len(hashes)
        return [ttl[h] for h in hashes]


def _hash_problem(value: object) -> str | None:  # noqa: PLR0911 - one return per rule
    """Why ``value`` is not a token hash, or None when it is one."""
    if not isinstance(value, str):
        return None  # the caller raises TypeError for these
    if _JWT_SHAPE.fullmatch(value):
        return (
            "looks like a raw JWT, not a token hash; store hash_token(token) instead of the "
            "token itself"
        )
    if not value:
        return "is empty"
    if len(value) < HASH_MIN_LENGTH:
        return f"is shorter than {HASH_MIN_LENGTH} characters"
    if len(value) > HASH_MAX_LENGTH:
        return f"is longer than {HASH_MAX_LENGTH} characters (a raw token? hash it with hash_token)"
    if not _HASH_CHARS.fullmatch(value):
        return "contains characters outside [A-Za-z0-9_-] (a raw token? hash it with hash_token)"
    return None


def _distinct_valid(items: Sequence[object]) -> list[str] | None:
    """The distinct hashes when every item is valid, else None (the caller then finds the
    first problem with its position). One C-level pass and one regex per distinct item:
    bulk calls validate millions of hashes."""
    try:
        distinct = dict.fromkeys(items)
        if all(map(_VALID_HASH.fullmatch, distinct)):  # type: ignore[arg-type]
            return list(distinct)  # type: ignore[arg-type]
    except TypeError:  # an unhashable or non-str item
        pass
    return None


def _validated_hashes(token_hashes: Iterable[str], what: str) -> list[str]:
    kind = type(token_hashes)
    if kind is list or kind is tuple:  # the common call: neither a str nor a mapping
        fast = _distinct_valid(token_hashes)  # type: ignore[arg-type]
        if fast is not None:
            return fast
    if isinstance(token_hashes, str | bytes | bytearray | memoryview):
        raise TypeError(
            f"{what} must be an iterable of str hashes, not a single {type(token_hashes).__name__}"
        )
    if isinstance(token_hashes, Mapping):
        raise TypeError(f"{what} must be an iterable of str hashes, not a mapping")
    try:
        items = iter(token_hashes)
    except TypeError:
        raise TypeError(
            f"{what} must be an iterable of str hashes, not {type(token_hashes).__name__}"
        ) from None
    materialised = list(items)
    fast = _distinct_valid(materialised)
    if fast is not None:
        return fast
    distinct: dict[str, None] = {}
    for index, value in enumerate(materialised):
        if not isinstance(value, str):
            raise TypeError(
                f"{what}[{index}] is a {type(value).__name__}; token hashes must be str"
            )
        if value in distinct:
            continue
        problem = _hash_problem(value)
        if problem is not None:
            raise InvalidTokenHash(f"{what}[{index}] {problem}", index=index)
        distinct[value] = None
    return list(distinct)


def check_int(
    name: str, value: object, low: int, high: int, error: type[ValueError] = ValueError
) -> int:
    """``value`` when it is an int (not a bool) within ``low..high``; else TypeError/``error``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise error(f"{name} must be between {low} and {high}, got {value}")
    return value


def check_number(
    name: str, value: object, low: float, high: float, error: type[ValueError] = ValueError
) -> float:
    """``value`` as a float when it is a finite int or float (not a bool) within ``low..high``.

    The message gives the bounds, not the value (``issued_at`` comes from a token).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or not low <= value <= high:
        raise error(f"{name} must be between {low:g} and {high:g}")
    return float(value)


def validate_ttl(ttl: object, where: str = "ttl") -> int:
    """A TTL in whole seconds, 1 to :data:`MAX_TTL_SECONDS`."""
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise TypeError(f"{where} must be an int number of seconds, not {type(ttl).__name__}")
    if ttl < 1:
        raise InvalidTTL(f"{where} must be at least 1 second, got {ttl}")
    if ttl > MAX_TTL_SECONDS:
        raise InvalidTTL(f"{where} must be at most {MAX_TTL_SECONDS} seconds, got {ttl}")
    return ttl


def _valid_ttls(hashes: list[str], ttl: Mapping[str, int]) -> dict[str, int] | None:
    """Each hash's TTL when every one is there and valid, else None (the caller then finds
    the first problem with its position): a few C-level passes, as for the hashes."""
    try:
        per_hash = {h: ttl[h] for h in hashes}
    except KeyError:
        return None
    values = per_hash.values()
    if not values:
        return per_hash
    if set(map(type, values)) == {int} and min(values) >= 1 and max(values) <= MAX_TTL_SECONDS:
        return per_hash  # exactly int: a bool (or another subclass) takes the rule path
    return None


def plan_blacklist(token_hashes: Iterable[str], ttl: TtlSpec) -> BlacklistPlan:
    """Validate a ``blacklist_tokens`` call completely, before anything is sent.

    Raises :class:`TypeError` for wrong types and :class:`InvalidTokenHash` (a ``ValueError``;
    :class:`InvalidTTL` for a TTL) for wrong values. Duplicates are dropped, keeping the
    first occurrence's position.
    """
    return _planned(_validated_hashes(token_hashes, "token_hashes"), ttl)


def plan_checked(token_hashes: list[str], ttl: TtlSpec) -> BlacklistPlan:
    """:func:`plan_blacklist` of hashes already held to :func:`validate_hash`'s rules, one
    by one, by their reader (``token-blacklist revoke``'s input lines: a million in an
    incident, each checked once, not twice). Duplicates are dropped; the TTL spec is
    validated as :func:`plan_blacklist` validates it."""
    return _planned(list(dict.fromkeys(token_hashes)), ttl)


def _planned(hashes: list[str], ttl: TtlSpec) -> BlacklistPlan:
    """The plan of validated, distinct ``hashes`` once ``ttl`` is validated for them."""
    if type(ttl) is int:  # exactly int (a bool takes validate_ttl's rule path)
        if 1 <= ttl <= MAX_TTL_SECONDS:
            return BlacklistPlan(hashes, ttl)
    elif isinstance(ttl, Mapping):
        fast = _valid_ttls(hashes, ttl)
        if fast is not None:
            return BlacklistPlan(hashes, fast)
        per_hash: dict[str, int] = {}
        for index, token_hash in enumerate(hashes):
            if token_hash not in ttl:
                raise InvalidTTL(f"ttl mapping has no entry for token_hashes[{index}]", index=index)
            per_hash[token_hash] = validate_ttl(ttl[token_hash], f"ttl of token_hashes[{index}]")
        return BlacklistPlan(hashes, per_hash)
    return BlacklistPlan(hashes, validate_ttl(ttl, "ttl"))


def plan_check(token_hashes: Iterable[str]) -> list[str]:
    """Validate the hashes of a check; distinct, in input order."""
    return _validated_hashes(token_hashes, "token_hashes")


def validate_hash(token_hash: object) -> str:
    """Validate one hash (for ``is_blacklisted``)."""
    if type(token_hash) is str and _VALID_HASH.fullmatch(token_hash):
        return token_hash  # every rule at once: the common case
    if not isinstance(token_hash, str):
        raise TypeError(f"token_hash must be str, not {type(token_hash).__name__}")
    problem = _hash_problem(token_hash)
    if problem is not None:
        raise InvalidTokenHash(f"token_hash {problem}")
    return token_hash


def validate_prefix(prefix: object) -> str:
    """A key prefix: printable ASCII without spaces; keys are ``f"{prefix}:{hash}"``."""
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be str, not {type(prefix).__name__}")
    if not prefix or not _PREFIX_CHARS.fullmatch(prefix) or len(prefix) > 256:
        raise ValueError("prefix must be 1 to 256 printable ASCII characters without spaces")
    return prefix
