"""Construction-time settings shared by the sync and async clients, validated once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry

from .cluster import is_cluster_client
from .plan import validate_prefix
from .protocol import RetryPolicy
from .round_trips import AttributeValue
from .telemetry import Telemetry

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
    retry = get_retry() if callable(get_retry) else None
    get_retries = getattr(retry, "get_retries", None)
    count = get_retries() if callable(get_retries) else 0
    return count if isinstance(count, int) and count > 0 else 0


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


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
        _check_int("chunk_size", chunk_size, 1, MAX_CHUNK_SIZE)
        _check_int("retries", retries, 0, 10)
        if isinstance(retry_backoff, bool) or not isinstance(retry_backoff, int | float):
            raise TypeError("retry_backoff must be a number of seconds")
        if not 0 <= retry_backoff <= 10:
            raise ValueError("retry_backoff must be between 0 and 10 seconds")
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
            retry=RetryPolicy(retries, float(retry_backoff), _client_retries(client)),
            on_check_error=on_check_error,
            telemetry=telemetry,
        )
