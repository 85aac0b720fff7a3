"""Streaming input for ``revoke`` and ``check``: one token (hash) a line, optional TTL column.

Lines are read and validated one at a time and handed on in batches, so a million lines
never need a million lines of memory. An error names the line number, never the line:
it may hold a raw token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, NamedTuple

from .._core.validation import MAX_TTL_SECONDS, validate_hash
from ..errors import InvalidTokenHash
from ..hashing import hash_token

__all__ = ["Entry", "InputError", "decoded_lines", "open_input", "read_entries"]

_SEPARATORS = re.compile(r"[\s,]+")


# A usable line in one match: a hash by every rule of validate_hash (no dot: never a JWT;
# 8 to 128 characters of [A-Za-z0-9_-]) and an optional TTL column of ASCII digits. A line
# that does not match takes the rule-by-rule path, which names what is wrong.
_PLAIN_LINE = re.compile(r"([A-Za-z0-9_-]{8,128})(?:[\s,]+([0-9]{1,12}))?")

_TTL = re.compile(r"[0-9]{1,12}")
"""ASCII digits only: ``str.isdigit`` accepts ``²`` (which ``int`` refuses) and ``int`` accepts
``١٢``, ``1_000`` and ``+5``; none is a TTL column."""


class InputError(Exception):
    """A line that cannot be used; ``str()`` is safe to print (line number and rule only).

    ``line`` is 1-based; ``unit`` is "line" for a file or stdin, "argument" for arguments.
    """

    def __init__(self, line: int, problem: str, unit: str = "line") -> None:
        super().__init__(f"{unit} {line}: {problem}" if line else problem)
        self.line = line


class Entry(NamedTuple):
    """One usable line: the hash to store and its own TTL when the line had one.

    A named tuple (immutable, as the frozen dataclass it was): a third of the cost to
    make, and ``revoke`` makes one per line."""

    line: int
    token_hash: str
    ttl: int | None

    def as_line(self) -> str:
        """The line in the input format (with a hash, even if the input was a raw token)."""
        return self.token_hash if self.ttl is None else f"{self.token_hash} {self.ttl}"


def _ttl(text: str, line: int, unit: str) -> int:
    if not _TTL.fullmatch(text):
        raise InputError(line, "the TTL column is not a whole number of seconds", unit)
    ttl = int(text)
    if not 1 <= ttl <= MAX_TTL_SECONDS:
        raise InputError(line, f"the TTL must be between 1 and {MAX_TTL_SECONDS} seconds", unit)
    return ttl


def _checked_hash(value: str, line: int, unit: str) -> str:
    try:
        return validate_hash(value)
    except InvalidTokenHash as error:
        # The library's message names the rule ("is shorter than 8 characters"), not the value.
        rule = str(error).removeprefix("token_hash ")
        hint = " (raw tokens need --hash)" if "raw" in rule and "--hash" not in rule else ""
        raise InputError(line, f"the token hash {rule}{hint}", unit) from None


def decoded_lines(lines: Iterable[bytes | str], unit: str = "line") -> Iterator[str]:
    """Each line decoded on its own (a text stream decodes by blocks, so a bad byte would
    fail thousands of lines early and lose the lines before it in the same block).

    Raises :class:`InputError` naming the exact line; every line before it was yielded.
    """
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, str):
            yield raw
            continue
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(number, "is not valid UTF-8", unit) from None


def read_entries(
    lines: Iterable[bytes | str],
    *,
    hasher: Callable[[str], str] | None = None,
    default_ttl: int | None = None,
    need_ttl: bool = True,
    unit: str = "line",
    first_line: int = 1,
) -> Iterator[Entry]:
    """Usable entries in input order; blank lines and ``#`` comments are skipped.

    ``hasher`` (for raw tokens) turns the first column into a hash. Lines before
    ``first_line`` are skipped unread (``--resume-from``). Raises :class:`InputError` at
    the first unusable line (the entries before it were yielded).
    """
    plain = _PLAIN_LINE.fullmatch if hasher is None else None
    ttl_needed = need_ttl and default_ttl is None
    for number, raw in enumerate(lines, start=1):
        if number < first_line:
            continue
        try:  # each line decoded on its own, as decoded_lines says why
            text = (raw.decode("utf-8") if isinstance(raw, bytes) else raw).strip()
        except UnicodeDecodeError:
            raise InputError(number, "is not valid UTF-8", unit) from None
        if plain is not None and (match := plain(text)) is not None:
            # The common line, in one regex (a million lines per incident): the same checks.
            ttl_text = match[2]
            if ttl_text is None and not ttl_needed:
                yield Entry(number, match[1], None)
                continue
            if ttl_text is not None and 1 <= (seconds := int(ttl_text)) <= MAX_TTL_SECONDS:
                yield Entry(number, match[1], seconds)
                continue
        if not text or text.startswith("#"):
            continue
        fields = _SEPARATORS.split(text)
        if len(fields) > 2:
            raise InputError(number, f"has {len(fields)} columns; expected a token and a TTL", unit)
        ttl = _ttl(fields[1], number, unit) if len(fields) == 2 else None
        if ttl is None and need_ttl and default_ttl is None:
            raise InputError(number, "has no TTL column and no --ttl was given", unit)
        token_hash = hasher(fields[0]) if hasher else _checked_hash(fields[0], number, unit)
        yield Entry(number, token_hash, ttl)


def batched(entries: Iterable[Entry], size: int) -> Iterator[list[Entry]]:
    """Lists of at most ``size`` entries; only one batch is held at a time.

    An :class:`InputError` is raised after the entries read before it were yielded.
    """
    batch: list[Entry] = []
    try:
        for entry in entries:
            batch.append(entry)
            if len(batch) >= size:
                yield batch
                batch = []
    except InputError:
        # Send what came before the unusable line, then stop: "every line before N was sent".
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def raw_token_hasher(key: bytes | None) -> Callable[[str], str]:
    """``hash_token`` with the optional HMAC key, for ``--hash``."""

    def hasher(token: str) -> str:
        return hash_token(token, key=key)

    return hasher


def open_input(path: str, stdin: IO[bytes]) -> IO[bytes]:
    """The input file in binary mode (lines are decoded one by one), or ``stdin`` for ``-``.

    Raises :class:`OSError` with a message that names the file.
    """
    if path == "-":
        return stdin
    try:
        return open(path, "rb")  # the caller's ExitStack closes it
    except OSError as error:
        raise OSError(
            error.errno, f"cannot open the input file {path} ({error.strerror})"
        ) from None
