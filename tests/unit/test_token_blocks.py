"""``revoke`` reads its input a block of lines at a time and checks a plain block as a whole:
it must accept exactly the lines, numbers, hashes, TTLs and errors that the line-by-line
reader gives, whatever the block size, ``--resume-from`` line and line ends."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from token_blacklist._core.validation import MAX_TTL_SECONDS, validate_hash
from token_blacklist.cli.token_lines import Entry, InputError, read_blocks, read_entries

HASH_CHARS = "abcXYZ019_-"
# What breaks a hash or a line in the ways the block checks must notice.
ODD = [".", " ", "\t", ",", "\r", "é", "\x0b", "\x85", "#"]

hash_text = st.text(alphabet=HASH_CHARS, min_size=6, max_size=131)
odd_hash = st.builds(
    lambda text, odd, at: text[:at] + odd + text[at:],
    hash_text, st.sampled_from(ODD), st.integers(0, 130),
)  # fmt: skip
ttl_text = st.one_of(
    st.integers(1, MAX_TTL_SECONDS).map(str),
    st.sampled_from(["0", str(MAX_TTL_SECONDS + 1), "1" * 13, "", "12a", "٣"]),
)
separator = st.sampled_from([" ", "\t", ",", " , ", "  "])
line_end = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r\r\n", " \n"])
line = st.one_of(
    st.tuples(hash_text, line_end).map("".join),
    st.tuples(hash_text, line_end).map("".join),
    st.tuples(hash_text, separator, ttl_text, line_end).map("".join),
    st.tuples(odd_hash, line_end).map("".join),
    st.sampled_from(["\n", "# a comment\n", "   \n", "\r\n"]),
).map(str.encode)
raw_line = st.one_of(line, st.just(b"\xff" + b"a" * 10 + b"\n"))


def lines_read(lines: list[bytes], size: int) -> list[list[bytes]]:
    it = iter(lines)
    return list(iter(lambda: list(itertools.islice(it, size)), []))


def line_by_line(lines: list[bytes], **options: object) -> tuple[list[Entry], str | None]:
    got: list[Entry] = []
    try:
        got.extend(read_entries(lines, **options))  # type: ignore[arg-type]
    except InputError as error:
        return got, str(error)
    return got, None


def by_blocks(lines: list[bytes], size: int, **options: object) -> tuple[list[Entry], str | None]:
    got: list[Entry] = []
    try:
        for block in read_blocks(lines_read(lines, size), **options):  # type: ignore[arg-type]
            assert block.hashes, "an empty block is not yielded"
            assert len(block.numbers) == len(block.hashes)
            # What the command then sends without checking again (plans_of(checked=True)).
            assert all(validate_hash(token_hash) == token_hash for token_hash in block.hashes)
            got.extend(block.entries())
    except InputError as error:
        return got, str(error)
    return got, None


@settings(max_examples=400, deadline=None)
@given(
    body=st.lists(st.lists(raw_line, max_size=6), max_size=6),
    last_end=st.booleans(),
    size=st.integers(1, 12),
    default_ttl=st.sampled_from([None, 60]),
    first_line=st.integers(1, 8),
)
def test_blocks_read_what_lines_read(body, last_end, size, default_ttl, first_line) -> None:
    # Runs of lines, some repeated: plain blocks (the whole-block check) and mixed ones.
    lines = [one for run in body for one in (run * 3 if len(run) == 1 else run)]
    if lines and not last_end:
        lines[-1] = lines[-1].rstrip(b"\r\n")  # the last line without its line end
    options = {"default_ttl": default_ttl, "first_line": first_line}
    assert by_blocks(lines, size, **options) == line_by_line(lines, **options)


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_a_plain_block_is_checked_as_a_whole(ending: bytes) -> None:
    # The whole-block path gives consecutive numbers as a range: it was taken.
    hashes = [f"{n:064x}" for n in range(5)]
    bare = [h.encode() + ending for h in hashes]
    (block,) = read_blocks([bare], default_ttl=60, first_line=2)
    assert block == (range(2, 6), hashes[1:], None)
    with_ttl = [h.encode() + b" 30" + ending for h in hashes]
    (block,) = read_blocks([with_ttl])
    assert block == (range(1, 6), hashes, [30] * 5)


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([b"a" * 8 + b"\n", b"a" * 129], "line 2: the token hash is longer"),
        ([b"abcd\refgh\n"], "line 1: the TTL column is not a whole number"),
        ([b"a" * 8 + b"\r\n", b"abcd\refgh\r\n"], "line 2: the TTL column is not"),
        ([b"a" * 8 + b" 0\n"], "line 1: the TTL must be between"),
        ([b"a" * 8 + b"\n", b"a" * 7 + b"\n"], "line 2: the token hash is shorter"),
    ],
)
def test_a_block_that_is_not_plain_fails_at_its_line(lines: list[bytes], error: str) -> None:
    got, problem = by_blocks(lines, 10, default_ttl=60)
    assert problem is not None and problem.startswith(error), problem
    assert got == [Entry(1, "a" * 8, None)] * (len(lines) - 1)  # the lines before it
