"""``revoke``'s line reader: the one-regex path for common lines accepts exactly what the
rule-by-rule path accepts, and every other line still gets its own message."""

from __future__ import annotations

import re

import pytest

from token_blacklist._core.validation import MAX_TTL_SECONDS
from token_blacklist.cli.token_lines import Entry, InputError, read_entries

H = "a" * 64


def entries(*lines: bytes, **options: object) -> list[Entry]:
    return list(read_entries(list(lines), **options))  # type: ignore[arg-type]


def test_common_lines_with_and_without_a_ttl_column() -> None:
    got = entries(
        f"{H}\n".encode(),
        f"{H[:8]} 60\r\n".encode(),
        f"  {H[:9]},\t{MAX_TTL_SECONDS}  \n".encode(),
        b"\n",
        b"# a comment\n",
        f"{'b' * 128}\n".encode(),
        default_ttl=30,
    )
    assert got == [
        Entry(1, H, None),
        Entry(2, H[:8], 60),
        Entry(3, H[:9], MAX_TTL_SECONDS),
        Entry(6, "b" * 128, None),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (f"{H} 0", "the TTL must be between 1 and"),
        (f"{H} {MAX_TTL_SECONDS + 1}", "the TTL must be between 1 and"),
        (f"{H} 1234567890123", "the TTL column is not a whole number"),
        (f"{H} ²", "the TTL column is not a whole number"),
        (f"{H} 60 7", "has 3 columns"),
        (f"{H},", "the TTL column is not a whole number"),
        ("a" * 7, "shorter than 8 characters"),
        ("a" * 129, "longer than 128 characters"),
        ("eyJhbGciOi.eyJzdWIi.c2ln", "looks like a raw JWT"),
        ("abc$defghij", "outside [A-Za-z0-9_-]"),
    ],
)
def test_every_other_line_is_named_by_its_rule(line: str, problem: str) -> None:
    with pytest.raises(InputError, match=rf"^line 2: .*{re.escape(problem)}"):
        entries(f"{H}\n".encode(), f"{line}\n".encode(), default_ttl=30)


def test_a_line_without_ttl_needs_a_default() -> None:
    with pytest.raises(InputError, match="line 1: has no TTL column and no --ttl was given"):
        entries(f"{H}\n".encode())
    assert entries(f"{H} 5\n".encode()) == [Entry(1, H, 5)]


def test_bad_utf8_names_its_line_and_resume_skips_lines_unread() -> None:
    with pytest.raises(InputError, match="line 2: is not valid UTF-8"):
        entries(f"{H}\n".encode(), b"\xff\n", default_ttl=30)
    assert entries(b"\xff\n", f"{H}\n".encode(), default_ttl=30, first_line=2) == [
        Entry(2, H, None)
    ]
