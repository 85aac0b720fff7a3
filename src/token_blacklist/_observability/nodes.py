"""Which Redis nodes one library call talked to, and which of them lost a round trip.

A multi-node transport (Redis Cluster) notes the nodes it used while a call runs; the
telemetry point reads the note when it builds the call's span attributes and log event.
A context variable carries the note so that concurrent calls (threads, asyncio tasks)
never mix their nodes. Node addresses go to spans and logs only, never to metric labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["CallNodes", "collect_nodes", "current_node_fields", "note_nodes"]


@dataclass(slots=True)
class CallNodes:
    """Node addresses (``host:port``) involved in a call, and those that failed."""

    involved: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    def fields(self) -> dict[str, int | list[str]]:
        """Span attributes / log fields; empty for a single-server client."""
        if not self.involved:
            return {}
        return {"nodes": len(self.involved), "failed_nodes": sorted(self.failed)}


_current: ContextVar[CallNodes | None] = ContextVar("token_blacklist_call_nodes", default=None)


@contextmanager
def collect_nodes() -> Iterator[CallNodes]:
    """Collect the notes of the transport calls made inside this block."""
    nodes = CallNodes()
    token = _current.set(nodes)
    try:
        yield nodes
    finally:
        _current.reset(token)


def note_nodes(involved: Iterable[str], failed: Iterable[str]) -> None:
    """Add to the current call's note (a no-op outside a call)."""
    nodes = _current.get()
    if nodes is not None:
        nodes.involved.update(involved)
        nodes.failed.update(failed)


def current_node_fields() -> dict[str, int | list[str]]:
    """The current call's node fields (``nodes``, ``failed_nodes``), empty when none."""
    nodes = _current.get()
    return nodes.fields() if nodes is not None else {}
