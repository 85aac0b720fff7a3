"""The hot path of the client: a logout and a check when nothing needs the call's span
current, and the driver of the core's protocols.

With the wire transport, no check cache, and no span to be made for a round trip (the
default ``trace_round_trips="auto"`` while redis-py is not instrumented, or ``False``),
nothing can be a child of the call's span while the call runs: the span is made once the
call is over (``Telemetry.finished_span``: same name, parent, start time and attributes,
all given at creation), and current only around a log event. A logout that fits one chunk
is packed and sent as the blacklist protocol's first request would be; the protocol only
runs when not every ``SET`` was acknowledged, taking that reply as its first one. Every
reply is still read and classified, and the result is the same object.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Hashable, Iterable
from typing import TypeVar

from .._core.commands import CheckTokenAndSubject, pack_exists, pack_sets
from .._core.protocol import (
    Reply,
    Request,
    acknowledged,
    answer_check,
    blacklist_protocol,
    interpret_check,
)
from .._core.subjects import interpret_subject_check, plan_subject_check
from .._core.validation import BlacklistPlan, TtlSpec, plan_blacklist, validate_hash
from .._io import async_hooks as hooks
from .._observability.telemetry import BLACKLIST_SPAN, CHECK_SPAN
from .._options import ClientCore
from ..results import BlacklistResult, FailureReason
from .pipeline import AsyncTransport
from .wire import AsyncWireTransport

__all__ = ["AsyncHotPath", "drive"]

T = TypeVar("T")


async def drive(
    protocol: Generator[Request, Reply, T], transport: AsyncTransport, first: Reply | None = None
) -> T:
    """Run a protocol generator of the core to its end: wait, send, hand back the replies.

    ``first``: the reply to the protocol's first request, already sent by the caller."""
    try:
        request = next(protocol)
        if first is not None:
            request = protocol.send(first)
        while True:
            if request.delay:
                await hooks.sleep(request.delay)
            request = protocol.send(await transport.round_trip(request.commands))
    except StopIteration as stop:
        result: T = stop.value
        return result


class AsyncHotPath:
    """The calls of one client that may skip the current span (see the module docstring)."""

    def __init__(
        self,
        core: ClientCore,
        transport: AsyncTransport,
        server_of: Callable[[str], Hashable] | None,
    ) -> None:
        self._core = core
        self._transport = transport
        self._server_of = server_of
        self._wire = transport if isinstance(transport, AsyncWireTransport) else None

    def wire(self) -> AsyncWireTransport | None:
        """The wire transport when this call may take the hot path, else None."""
        wire = self._wire
        return wire if wire is not None and not wire.may_trace() else None

    async def blacklist(
        self, token_hashes: Iterable[str], ttl: TtlSpec, started: float
    ) -> BlacklistResult:
        """``blacklist_tokens`` on the hot path (``started``: its ``perf_counter()``)."""
        telemetry = self._core.telemetry
        opened = time.time_ns()
        try:
            plan = plan_blacklist(token_hashes, ttl)
        except (TypeError, ValueError) as error:
            telemetry.finish_rejected(BLACKLIST_SPAN, "blacklist", error, opened)
            raise
        try:
            result = await self.run(plan, lean=True)
        except BaseException as error:
            requested = {"token_blacklist.requested": len(plan.hashes)}
            telemetry.finish_crashed(BLACKLIST_SPAN, error, opened, requested)
            raise
        telemetry.finish_blacklist(result, opened, time.perf_counter() - started)
        return result

    async def run(
        self,
        plan: BlacklistPlan,
        *,
        lean: bool = False,
        down: dict[Hashable, FailureReason] | None = None,
    ) -> BlacklistResult:
        """Run the blacklist protocol; ``lean`` (hot path): one chunk straight to the wire;
        ``down``: the servers known down so far (``blacklist_stream``'s batches)."""
        core = self._core
        hashes = plan.hashes
        wire = self._wire
        first: Reply | None = None
        if lean and wire is not None and 0 < len(hashes) <= core.chunk_size:
            keys = [core.key_prefix + h for h in hashes]
            first = await wire.send_packed(pack_sets(keys, plan.ttls(hashes)), len(keys))
            result = acknowledged(plan, first)
            if result is not None:
                return result
        protocol = blacklist_protocol(
            plan,
            core.chunk_size,
            core.retry,
            self._server_of,
            key_prefix=core.key_prefix,
            down=down,
        )
        return await drive(protocol, self._transport, first=first)

    async def check(
        self,
        wire: AsyncWireTransport,
        token_hash: str,
        subject: str | None,
        issued_at: float | None,
        started: float,
    ) -> bool:
        """``is_blacklisted`` on the hot path (``wire``: from :meth:`wire`)."""
        core = self._core
        opened = time.time_ns()
        try:
            hashes = [validate_hash(token_hash)]
            check = plan_subject_check(core.key_prefix, subject, issued_at)
        except (TypeError, ValueError) as error:
            core.telemetry.finish_rejected(CHECK_SPAN, "check", error, opened)
            raise
        token_key = core.key_prefix + token_hash
        subject_revoked: bool | None = None
        try:
            if check is None:
                reply = await wire.send_packed(pack_exists([token_key]), 1)
                outcome = interpret_check(hashes, reply)
            else:
                commands = CheckTokenAndSubject(token_key, check.subject_key)
                reply = await wire.send_packed(commands.packed(), 2)
                outcome, subject_revoked = interpret_subject_check(token_hash, check, reply)
        except BaseException as error:
            core.telemetry.finish_crashed(CHECK_SPAN, error, opened, {})
            raise
        duration = time.perf_counter() - started
        policy = core.on_check_error
        core.telemetry.finish_check(1, outcome, policy, opened, duration, subject_revoked)
        return bool(answer_check(outcome, policy))
