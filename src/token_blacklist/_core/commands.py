"""Every Redis command the library sends, built here once: as argument tuples (for redis-py
pipelines and the cluster exchange) and as packed RESP (for the fast path).

The decision core yields these batches and a transport only moves them (h11's
``send(event) -> bytes`` is the model): one ``round_trip(batch)`` per transport instead of
a method per command shape. The key layout lives here too:

- a token: ``{prefix}:{hash}``, written with ``SET key 1 EX ttl NX``; only for the keys
  that already exist (a re-revocation), a second round trip of ``EXPIRE key ttl GT`` then
  ``SET key 1 EX ttl NX`` (:class:`ExtendTokens`): a revocation's expiry only ever grows;
- a subject's not-before: ``{prefix}:nbf:{sha256(subject)}``, a sorted set whose only
  member :data:`NOT_BEFORE_MEMBER` is scored with the not-before time, written atomically
  by :data:`NOT_BEFORE_SCRIPT` (see :mod:`.subjects` for why ``ZADD GT`` and the two
  ``EXPIRE`` s).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import InvalidSubject

__all__ = [
    "NOT_BEFORE_MEMBER",
    "NOT_BEFORE_SCRIPT",
    "SUBJECT_MAX_LENGTH",
    "Batch",
    "CheckTokenAndSubject",
    "Command",
    "ExistsTokens",
    "ExtendTokens",
    "SetNotBefore",
    "SetTokens",
    "command_key",
    "encode_command",
    "pack_command",
    "pack_commands",
    "pack_exists",
    "pack_sets",
    "subject_key",
    "validate_subject",
    "wait_command",
]

Command = tuple[Any, ...]
"""``("SET", key, b"1", b"EX", b"60", b"NX")``: the command name (str), then the key and
the rest, all bytes. redis-py hands arguments to hiredis' ``pack_command`` as they are
(encoding only the name first), and hiredis 3.5 crashes the process (SIGSEGV) when
converting an int fails, which a signal handler raising into the conversion makes happen
(see ``scripts/hiredis_pack_command_sigsegv.py``): with bytes there is nothing to convert.
The name stays a str because redis-py picks its reply callbacks, and OpenTelemetry's redis
instrumentation its span names, by it."""

NOT_BEFORE_MEMBER = "nbf"
"""The only member of a subject's sorted set; its score is the not-before time."""
SUBJECT_MAX_LENGTH = 1024


def validate_subject(subject: object) -> str:
    if not isinstance(subject, str):
        raise TypeError(f"subject must be str, not {type(subject).__name__}")
    if not subject or len(subject) > SUBJECT_MAX_LENGTH:
        # The message never repeats the value: a subject is a user id.
        raise InvalidSubject(f"subject must be 1 to {SUBJECT_MAX_LENGTH} characters")
    return subject


def subject_key(key_prefix: str, subject: str) -> str:
    """The Redis key of a subject's not-before: the subject itself never appears in it."""
    digest = hashlib.sha256(validate_subject(subject).encode("utf-8")).hexdigest()
    return f"{key_prefix}nbf:{digest}"


class Batch:
    """The commands of one round trip.

    ``name`` names the round trip's span (``SET``/``EXISTS``; None for mixed commands),
    ``writes`` marks the batches a Sentinel transport confirms with ``WAIT``, and
    ``fast`` the ones the fast path packs itself (the others go through a pipeline).
    """

    __slots__ = ()
    name: ClassVar[str | None] = None
    writes: ClassVar[bool] = False
    fast: ClassVar[bool] = True

    def __len__(self) -> int:
        raise NotImplementedError

    def args(self) -> list[Command]:
        """One argument tuple per command, in order, bytes only (see :data:`Command`)."""
        raise NotImplementedError

    def packed(self) -> bytes:
        """All commands as one RESP buffer."""
        return pack_commands(self.args())


@dataclass(frozen=True, slots=True)
class SetTokens(Batch):
    """``SET key 1 EX ttl NX`` for each key: never touches an existing revocation (a nil
    reply says the key exists; :class:`ExtendTokens` then lengthens it if needed)."""

    name: ClassVar[str | None] = "SET"
    writes: ClassVar[bool] = True
    keys: Sequence[str]
    ttls: Sequence[int]

    def __len__(self) -> int:
        return len(self.keys)

    def args(self) -> list[Command]:
        return [
            ("SET", key.encode(), b"1", b"EX", b"%d" % ttl, b"NX")
            for key, ttl in zip(self.keys, self.ttls, strict=True)
        ]

    def packed(self) -> bytes:
        return pack_sets(self.keys, self.ttls)


@dataclass(frozen=True, slots=True)
class ExtendTokens(Batch):
    """For keys whose ``SET ... NX`` found them present: ``EXPIRE key ttl GT`` (only ever
    lengthens; a key without expiry counts as infinite), then ``SET key 1 EX ttl NX``
    again, which writes the key if it expired or was deleted since (``EXPIRE`` answers 0
    both when the existing expiry is already longer and when the key is gone: the
    ``SET`` tells the two apart). Two commands per key, in that order; mixed commands,
    so its round trip's span is a plain ``BATCH``."""

    writes: ClassVar[bool] = True
    keys: Sequence[str]
    ttls: Sequence[int]

    def __len__(self) -> int:
        return 2 * len(self.keys)

    def args(self) -> list[Command]:
        return [
            command
            for raw, ttl in zip(map(str.encode, self.keys), self.ttls, strict=True)
            for command in (
                ("EXPIRE", raw, b"%d" % ttl, b"GT"),
                ("SET", raw, b"1", b"EX", b"%d" % ttl, b"NX"),
            )
        ]


@dataclass(frozen=True, slots=True)
class ExistsTokens(Batch):
    """``EXISTS key`` for each key (one key per command: one reply per hash)."""

    name: ClassVar[str | None] = "EXISTS"
    keys: Sequence[str]

    def __len__(self) -> int:
        return len(self.keys)

    def args(self) -> list[Command]:
        return [("EXISTS", key.encode()) for key in self.keys]

    def packed(self) -> bytes:
        return pack_exists(self.keys)


NOT_BEFORE_SCRIPT = f"""#!lua
local key, nbf, life = KEYS[1], ARGV[1], ARGV[2]
if not (redis.acl_check_cmd('ZADD', key, 'GT', nbf, '{NOT_BEFORE_MEMBER}')
        and redis.acl_check_cmd('EXPIRE', key, life, 'GT')) then
  return redis.error_reply('NOPERM this user may not run ZADD and EXPIRE on the key')
end
redis.call('ZADD', key, 'GT', nbf, '{NOT_BEFORE_MEMBER}')
redis.call('EXPIRE', key, life, 'NX')
redis.call('EXPIRE', key, life, 'GT')
return 1
"""
"""The not-before write as one script, so it is atomic: a round trip cut or a refusal can
never leave the score without its expiry. ``#!lua`` (no flags) makes Redis refuse it as a
whole on a replica (READONLY) or out of memory (OOM) before it runs; the ACL is checked
up front for both commands (a ``redis.call`` denied half-way would have written the
``ZADD`` already, and its error would read ``ERR``, not ``NOPERM``)."""


@dataclass(frozen=True, slots=True)
class SetNotBefore(Batch):
    """``EVAL`` :data:`NOT_BEFORE_SCRIPT`: ``ZADD key GT <not_before> nbf``, ``EXPIRE key
    <s> NX``, ``EXPIRE key <s> GT``, atomically. One command; its reply is 1."""

    writes: ClassVar[bool] = True
    fast: ClassVar[bool] = False
    key: str
    not_before: int
    expire_seconds: int

    def __len__(self) -> int:
        return 1

    def args(self) -> list[Command]:
        return [
            encode_command(
                "EVAL", NOT_BEFORE_SCRIPT, 1, self.key, self.not_before, self.expire_seconds
            )
        ]


def command_key(command: Command) -> bytes:
    """The key of a command this module builds (the routing key on a cluster)."""
    key: bytes = command[3] if command[0] in ("EVAL", "EVALSHA") else command[1]
    return key


@dataclass(frozen=True, slots=True)
class CheckTokenAndSubject(Batch):
    """``EXISTS token_key`` and ``ZSCORE subject_key nbf``: a check that honours
    ``revoke_all`` (the authentication hot path of the FastAPI integration). Two keys,
    usually in two cluster slots: the cluster exchange sends each to its own node."""

    token_key: str
    subject_key: str

    def __len__(self) -> int:
        return 2

    def args(self) -> list[Command]:
        return [
            encode_command("EXISTS", self.token_key),
            encode_command("ZSCORE", self.subject_key, NOT_BEFORE_MEMBER),
        ]

    def packed(self) -> bytes:
        return pack_command("EXISTS", self.token_key) + pack_command(
            "ZSCORE", self.subject_key, NOT_BEFORE_MEMBER
        )


def wait_command(replicas: int, timeout_ms: int) -> Command:
    """``WAIT replicas timeout``: how many replicas have every earlier write of the connection."""
    return encode_command("WAIT", replicas, timeout_ms)


def encode_command(*args: object) -> Command:
    """A command: its name as it is, its arguments as bytes (str as UTF-8, ints in
    decimal, bytes as they are)."""
    name, *rest = args
    return (name, *(_raw(arg) for arg in rest))


def pack_sets(keys: Sequence[str], ttls: Sequence[int]) -> bytes:
    """``SET key 1 EX ttl NX`` for each key as one RESP buffer (keys encoded as UTF-8).

    By string formatting, not per argument: a redis-py pipeline spends most of its time in
    Python per command, and bulk calls send millions.
    """
    if not keys:
        return b""
    first = ttls[0]
    if ttls.count(first) == len(ttls):  # the common case: one TTL for the whole chunk
        tail = f"\r\n$1\r\n1\r\n$2\r\nEX\r\n${len(str(first))}\r\n{first}\r\n$2\r\nNX\r\n"
        text = "".join([f"*6\r\n$3\r\nSET\r\n${len(k)}\r\n{k}{tail}" for k in keys])
    else:
        text = "".join(
            [
                f"*6\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$1\r\n1\r\n$2\r\nEX\r\n${len(t)}\r\n{t}\r\n$2\r\nNX\r\n"
                for k, t in zip(keys, map(str, ttls), strict=True)
            ]
        )
    data = text.encode()
    if len(data) == len(text):
        return data
    # A non-ASCII key: RESP lengths count bytes, not characters. Never seen with validated
    # hashes and prefixes, but the framing does not rely on the callers.
    return b"".join(
        b"*6\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$1\r\n1\r\n$2\r\nEX\r\n$%d\r\n%d\r\n$2\r\nNX\r\n"
        % (len(raw), raw, len(str(ttl)), ttl)
        for raw, ttl in ((k.encode(), t) for k, t in zip(keys, ttls, strict=True))
    )


def pack_exists(keys: Sequence[str]) -> bytes:
    """``EXISTS key`` for each key (one key per command: one reply per hash)."""
    text = "".join([f"*2\r\n$6\r\nEXISTS\r\n${len(k)}\r\n{k}\r\n" for k in keys])
    data = text.encode()
    if len(data) == len(text):
        return data
    return b"".join(
        b"*2\r\n$6\r\nEXISTS\r\n$%d\r\n%b\r\n" % (len(raw), raw) for raw in map(str.encode, keys)
    )


def _raw(arg: object) -> bytes:
    if isinstance(arg, bytes):
        return arg
    return str(arg).encode()


def pack_command(*args: object) -> bytes:
    """One command of any arguments (str as UTF-8, ints in decimal, bytes as they are)."""
    raws = [_raw(arg) for arg in args]
    return b"*%d\r\n" % len(raws) + b"".join(b"$%d\r\n%b\r\n" % (len(r), r) for r in raws)


def pack_commands(commands: Sequence[Command]) -> bytes:
    return b"".join(pack_command(*command) for command in commands)
