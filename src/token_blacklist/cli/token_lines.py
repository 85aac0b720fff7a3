"""Streaming input for ``revoke`` and ``check``: one token (hash) a line, optional TTL column.

Lines are read and validated one at a time and handed on in batches, so a million lines
never need a million lines of memory. An error names the line number, never the line:
it may hold a raw token.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, NamedTuple

from .._core.validation import HASH_MAX_LENGTH, HASH_MIN_LENGTH, MAX_TTL_SECONDS, validate_hash
from ..errors import InvalidTokenHash
from ..hashing import hash_token

__all__ = [
    "Block",
    "Entry",
    "InputError",
    "decoded_lines",
    "open_input",
    "read_blocks",
    "read_entries",
]

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
    start: int = 1,
) -> Iterator[Entry]:
    """Usable entries in input order; blank lines and ``#`` comments are skipped.

    ``hasher`` (for raw tokens) turns the first column into a hash. Lines before
    ``first_line`` are skipped unread (``--resume-from``); ``start`` is the number of the
    first of ``lines``. Raises :class:`InputError` at the first unusable line (the
    entries before it were yielded).
    """
    plain = _PLAIN_LINE.fullmatch if hasher is None else None
    ttl_needed = need_ttl and default_ttl is None
    for number, raw in enumerate(lines, start=start):
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


class Block(NamedTuple):
    """The usable lines of one block read together (``revoke`` reads ``--batch-size`` lines
    at a time): the line number, the hash and the own TTL of each, in input order."""

    numbers: Sequence[int]
    """A ``range`` when the lines are consecutive (no blank line or comment among them)."""
    hashes: list[str]
    ttls: list[int | None] | None
    """Each line's TTL column (None: none); None when no line of the block has one."""

    @classmethod
    def of(cls, entries: list[Entry]) -> Block:
        ttls = [entry.ttl for entry in entries]
        return cls(
            [entry.line for entry in entries],
            [entry.token_hash for entry in entries],
            ttls if any(ttl is not None for ttl in ttls) else None,
        )

    def entries(self) -> Iterator[Entry]:
        return map(Entry, self.numbers, self.hashes, self.ttls or itertools.repeat(None))


_HASH_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_TTL_LINE = re.compile(
    rb"([A-Za-z0-9_-]{%d,%d})[\t ,]+([0-9]{1,12})\r?\n?" % (HASH_MIN_LENGTH, HASH_MAX_LENGTH)
)


def _hash_only_block(lines: list[bytes], start: int) -> Block | None:
    """Every line a bare hash (``\\n`` or ``\\r\\n`` ended), checked for the whole block in
    a few C calls: what a line-by-line pass would accept, or None to take that pass."""
    data = b"".join(lines)
    ends = len(lines) if data.endswith(b"\n") else len(lines) - 1
    rest = data.translate(None, _HASH_BYTES)  # what is left is the line ends, or not
    if rest == b"\n" * ends:
        end = 1
    elif rest == b"\r\n" * ends and data.count(b"\r\n") == ends:  # no \r inside a line
        end = 2
    else:
        return None
    lengths = list(map(len, lines))
    if min(lengths) < HASH_MIN_LENGTH + end or max(lengths) > HASH_MAX_LENGTH + end:
        return None  # (a last line without its line end and 8 long takes the long way)
    if ends < len(lines) and lengths[-1] > HASH_MAX_LENGTH:
        return None
    hashes = data.decode("ascii").split()
    return Block(range(start, start + len(lines)), hashes, None)


def _ttl_column_block(lines: list[bytes], start: int) -> Block | None:
    """Every line a hash and a TTL column in range, or None (the line-by-line pass)."""
    matches = list(map(_TTL_LINE.fullmatch, lines))
    if not all(matches):
        return None
    ttls = [int(match[2]) for match in matches]  # type: ignore[index]
    if min(ttls) < 1 or max(ttls) > MAX_TTL_SECONDS:
        return None
    hashes = [match[1].decode("ascii") for match in matches]  # type: ignore[index]
    return Block(range(start, start + len(lines)), hashes, ttls)  # type: ignore[arg-type]


def read_blocks(
    blocks: Iterable[list[bytes]],
    *,
    hasher: Callable[[str], str] | None = None,
    default_ttl: int | None = None,
    first_line: int = 1,
) -> Iterator[Block]:
    """:func:`read_entries` (same rules, same errors), a block of lines at a time.

    A block of plain lines (bare hashes with ``default_ttl``, or hashes with a TTL
    column) is checked as a whole; any other block goes line by line. Blocks without a
    usable line are not yielded. Raises :class:`InputError` at the first unusable line,
    after a block of the usable lines before it.
    """
    number = 1  # of the block's first line
    for lines in blocks:
        start, number = number, number + len(lines)
        if number <= first_line:
            continue  # --resume-from: the whole block comes before the line
        if start < first_line:
            lines, start = lines[first_line - start :], first_line  # noqa: PLW2901
        block = None
        if hasher is None:
            block = (
                _hash_only_block(lines, start) if default_ttl is not None else None
            ) or _ttl_column_block(lines, start)
        if block is not None:
            yield block
            continue
        entries: list[Entry] = []
        try:
            entries.extend(read_entries(lines, hasher=hasher, default_ttl=default_ttl, start=start))
        except InputError:  # the usable lines before an unusable one are sent, then it stops
            if entries:
                yield Block.of(entries)
            raise
        if entries:
            yield Block.of(entries)


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
