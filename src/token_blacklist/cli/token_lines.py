"""Streaming input for ``revoke`` and ``check``: one token (hash) a line, optional TTL column.

Lines are read and validated one at a time and handed on in batches, so a million lines
never need a million lines of memory. An error names the line number, never the line:
it may hold a raw token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from .._core.validation import MAX_TTL_SECONDS, validate_hash
from ..errors import InvalidTokenHash
from ..hashing import hash_token

__all__ = ["Entry", "InputError", "batched", "read_entries"]

_SEPARATORS = re.compile(r"[\s,]+")


class InputError(Exception):
    """A line that cannot be used; ``str()`` is safe to print (line number and rule only)."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line


@dataclass(frozen=True, slots=True)
class Entry:
    """One usable line: the hash to store and its own TTL when the line had one."""

    line: int
    token_hash: str
    ttl: int | None

    def as_line(self) -> str:
        """The line in the input format (with a hash, even if the input was a raw token)."""
        return self.token_hash if self.ttl is None else f"{self.token_hash} {self.ttl}"


def _ttl(text: str, line: int) -> int:
    if not text.isdigit():
        raise InputError(line, "the TTL column is not a whole number of seconds")
    ttl = int(text)
    if not 1 <= ttl <= MAX_TTL_SECONDS:
        raise InputError(line, f"the TTL must be between 1 and {MAX_TTL_SECONDS} seconds")
    return ttl


def _checked_hash(value: str, line: int) -> str:
    try:
        return validate_hash(value)
    except InvalidTokenHash as error:
        # The library's message names the rule ("is shorter than 8 characters"), not the value.
        rule = str(error).removeprefix("token_hash ")
        hint = " (raw tokens need --hash)" if "raw" in rule and "--hash" not in rule else ""
        raise InputError(line, f"the token hash {rule}{hint}") from None


def read_entries(
    lines: Iterable[str],
    *,
    hasher: Callable[[str], str] | None = None,
    default_ttl: int | None = None,
    need_ttl: bool = True,
) -> Iterator[Entry]:
    """Usable entries in input order; blank lines and ``#`` comments are skipped.

    ``hasher`` (for raw tokens) turns the first column into a hash. Raises
    :class:`InputError` at the first unusable line (the entries before it were yielded).
    """
    number = 0
    iterator = iter(lines)
    while True:
        number += 1
        try:
            raw = next(iterator)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise InputError(number, "is not valid UTF-8") from None
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        fields = _SEPARATORS.split(text)
        if len(fields) > 2:
            raise InputError(number, f"has {len(fields)} columns; expected a token and a TTL")
        ttl = _ttl(fields[1], number) if len(fields) == 2 else None
        if ttl is None and need_ttl and default_ttl is None:
            raise InputError(number, "has no TTL column and no --ttl was given")
        token_hash = hasher(fields[0]) if hasher else _checked_hash(fields[0], number)
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


def open_input(path: str, stdin: IO[str]) -> IO[str]:
    """The input file, or ``stdin`` for ``-``."""
    if path == "-":
        return stdin
    return open(path, encoding="utf-8")
