"""Node notes stay with their own call, also across concurrent asyncio tasks."""

from __future__ import annotations

import asyncio

from token_blacklist._observability.nodes import collect_nodes, current_node_fields, note_nodes


def test_outside_a_call_notes_are_dropped_and_fields_empty():
    note_nodes(["a:1"], ["a:1"])
    assert current_node_fields() == {}


def test_a_single_server_call_has_no_node_fields():
    with collect_nodes():
        assert current_node_fields() == {}


def test_concurrent_calls_keep_their_own_nodes():
    async def call(name: str, failed: bool) -> dict[str, object]:
        with collect_nodes():
            for hop in range(3):
                note_nodes([f"{name}:{hop}"], [f"{name}:0"] if failed else [])
                await asyncio.sleep(0)
            return dict(current_node_fields())

    async def both() -> list[dict[str, object]]:
        return list(await asyncio.gather(call("x", True), call("y", False)))

    first, second = asyncio.run(both())
    assert first == {"nodes": 3, "failed_nodes": ["x:0"]}
    assert second == {"nodes": 3, "failed_nodes": []}
