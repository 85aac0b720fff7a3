"""Observability: the one telemetry point of every call (:mod:`.telemetry`), the Prometheus
metrics (:mod:`.metrics`), the CLIENT spans of the fast path's round trips
(:mod:`.round_trips`), the nodes a call touched (:mod:`.nodes`) and trace ids in logs
(:mod:`.log_context`)."""
