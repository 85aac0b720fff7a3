"""Construction-time settings shared by the sync and async clients, validated once.

Imports no transport: it sits under the shells and beside the transports, never above them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry

from ._compat import retries_of
from ._core.protocol import RetryPolicy
from ._core.routing import is_cluster_client
from ._core.validation import check_int, check_number, validate_prefix
from ._observability.round_trips import AttributeValue
from ._observability.telemetry import Telemetry

__all__ = ["CheckErrorPolicy", "ClientCore"]

CheckErrorPolicy = Literal["raise", "deny", "allow"]
"""What a check answers when Redis fails: raise, treat as blacklisted, or as not blacklisted."""

DEFAULT_CHUNK_SIZE = 1000
MAX_CHUNK_SIZE = 100_000


def _server_attributes(client: Any) -> dict[str, AttributeValue]:
    """``server.address``/``server.port`` from a standalone client's pool, when known."""
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if not isinstance(kwargs, dict):
        return {}
    attributes: dict[str, AttributeValue] = {}
    if isinstance(kwargs.get("path"), str):
        attributes["server.address"] = kwargs["path"]
    elif isinstance(kwargs.get("host"), str):
        attributes["server.address"] = kwargs["host"]
        if isinstance(kwargs.get("port"), int):
            attributes["server.port"] = kwargs["port"]
    return attributes


def _client_retries(client: Any) -> int:
    """How many times redis-py itself re-sends a pipeline after a connection error."""
    if is_cluster_client(client):
        return 0  # the cluster transport uses redis-py's node clients, which never retry
    get_retry = getattr(client, "get_retry", None)
    return retries_of(get_retry() if callable(get_retry) else None)


@dataclass(frozen=True, slots=True)
class ClientCore:
    """Everything a shell needs besides its Redis client: prefix, policies, telemetry."""

    key_prefix: str
    chunk_size: int
    retry: RetryPolicy
    on_check_error: CheckErrorPolicy
    telemetry: Telemetry

    @classmethod
    def build(
        cls,
        client: Any,
        *,
        prefix: str,
        registry: CollectorRegistry | None,
        tracer_provider: TracerProvider | None,
        logger: Any,
        chunk_size: int,
        retries: int,
        retry_backoff: float,
        on_check_error: CheckErrorPolicy,
    ) -> ClientCore:
        validate_prefix(prefix)
        check_int("chunk_size", chunk_size, 1, MAX_CHUNK_SIZE)
        check_int("retries", retries, 0, 10)
        backoff = check_number("retry_backoff", retry_backoff, 0.0, 10.0)
        if on_check_error not in get_args(CheckErrorPolicy):
            allowed = ", ".join(get_args(CheckErrorPolicy))
            raise ValueError(f"on_check_error must be one of {allowed}, got {on_check_error!r}")
        telemetry = Telemetry(
            registry=registry,
            tracer_provider=tracer_provider,
            logger=logger,
            server_attributes=_server_attributes(client),
        )
        return cls(
            key_prefix=f"{prefix}:",
            chunk_size=chunk_size,
            retry=RetryPolicy(retries, backoff, _client_retries(client)),
            on_check_error=on_check_error,
            telemetry=telemetry,
        )
