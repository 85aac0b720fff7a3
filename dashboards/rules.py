"""Recording rules and alerts as typed data, built from :class:`~dashboards.settings.Settings`.

Metric names are the library's public contract (``token_blacklist._observability.metrics``);
the tests check every name used here against a registry after real calls. Every selector of
a library metric carries ``Settings.selector`` (a ``job`` matcher at least, as the mixin lint
requires); recorded series are already scoped by the rule that recorded them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from token_blacklist.results import NO_ANSWER

from .settings import BURN_WINDOWS, RATIO_WINDOWS, BurnWindow, Settings

__all__ = [
    "Alert",
    "Group",
    "Record",
    "alert_groups",
    "failure_ratio",
    "recording_groups",
]

TOKENS = "token_blacklist_tokens_total"
TOKEN_FAILURES = "token_blacklist_token_failures_total"  # noqa: S105 - a metric name
OPERATIONS = "token_blacklist_operations_total"
DURATION = "token_blacklist_operation_duration_seconds"
CHECKS = "token_blacklist_checks_total"
CACHE = "token_blacklist_check_cache_total"
CACHE_HEARTBEAT = "token_blacklist_check_cache_heartbeat_seconds"

QUANTILES = ("0.5", "0.9", "0.99")
LATENCY = f"job_operation:{DURATION}:quantile_rate5m"
CHECK_ERROR_RATIO = "job:token_blacklist_check_errors_per_checks:ratio_rate5m"
REVOKE_ALL_FAILURE_RATIO = "job:token_blacklist_revoke_all_failures_per_calls:ratio_rate15m"
CACHE_BYPASS_RATIO = "job:token_blacklist_check_cache_bypass_per_checks:ratio_rate5m"
CACHE_HEARTBEAT_P99 = f"job:{CACHE_HEARTBEAT}:p99_rate5m"
# Reasons that mean "Redis did not answer", as opposed to "Redis answered no" (OOM, NOPERM):
# the library's own definition, so a new reason reaches the alerts without an edit here.
UNREACHABLE_REASONS = "|".join(reason.value for reason in NO_ANSWER)


def failure_ratio(window: str) -> str:
    """Name of the recorded token failure ratio over ``window``."""
    return f"job:token_blacklist_token_failures_per_tokens:ratio_rate{window}"


@dataclass(frozen=True, slots=True)
class Record:
    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    alert: str
    expr: str
    hold: str
    severity: str
    summary: str
    description: str
    runbook_url: str
    labels: dict[str, str] = field(default_factory=dict)

    def held_for(self, hold: str) -> Alert:
        """The same alert with another ``for:`` (end-to-end tests only)."""
        return replace(self, hold=hold)


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    rules: tuple[Record, ...] | tuple[Alert, ...]
    interval: str | None = None


def _select(settings: Settings, metric: str, matchers: str = "") -> str:
    """``metric{matchers, <the selector>}``."""
    labels = f"{matchers}, {settings.selector}" if matchers else settings.selector
    return f"{metric}{{{labels}}}"


def _ratio(numerator: str, denominator: str, window: str) -> str:
    # "> 0" drops jobs without traffic: no NaN from 0/0, and no alert on silence.
    return (
        f"sum by (job) (rate({numerator}[{window}]))\n"
        f"/\n"
        f"(sum by (job) (rate({denominator}[{window}])) > 0)"
    )


def _latency(settings: Settings, quantile: str) -> Record:
    bucket, count = _select(settings, f"{DURATION}_bucket"), _select(settings, f"{DURATION}_count")
    buckets = f"sum by (job, operation, le) (rate({bucket}[5m]))"
    traffic = f"sum by (job, operation) (rate({count}[5m])) > 0"
    return Record(
        LATENCY,
        f"histogram_quantile({quantile}, {buckets})\nand on (job, operation)\n{traffic}",
        {"quantile": quantile},
    )


def recording_groups(settings: Settings | None = None) -> tuple[Group, ...]:
    """Token failure ratios per window, the check error ratio and latency quantiles."""
    settings = settings or Settings()
    failures, tokens = _select(settings, TOKEN_FAILURES), _select(settings, TOKENS)
    ratios = [
        Record(failure_ratio(window), _ratio(failures, tokens, window))
        for window in RATIO_WINDOWS
        if window != "30d"
    ]
    fast = Group(
        "token_blacklist.rules",
        (
            *ratios,
            Record(
                CHECK_ERROR_RATIO,
                _ratio(
                    _select(settings, CHECKS, 'result="error"'), _select(settings, CHECKS), "5m"
                ),
            ),
            # "Log out everywhere" is rare: a 15m window sees a failure among few calls.
            Record(
                REVOKE_ALL_FAILURE_RATIO,
                _ratio(
                    _select(settings, OPERATIONS, 'operation="revoke_all", outcome="failure"'),
                    _select(
                        settings, OPERATIONS, 'operation="revoke_all", outcome=~"success|failure"'
                    ),
                    "15m",
                ),
            ),
            # check_cache=: how often the cache cannot answer, and how late its link is.
            Record(
                CACHE_BYPASS_RATIO,
                _ratio(_select(settings, CACHE, 'result="bypass"'), _select(settings, CACHE), "5m"),
            ),
            Record(
                CACHE_HEARTBEAT_P99,
                "histogram_quantile(0.99, sum by (job, le) "
                f"(rate({_select(settings, f'{CACHE_HEARTBEAT}_bucket')}[5m])))",
            ),
            *(_latency(settings, q) for q in QUANTILES),
        ),
    )
    # Thirty days of samples are read on every evaluation: evaluate it less often.
    budget = Group(
        "token_blacklist_slo_budget.rules",
        (Record(failure_ratio("30d"), _ratio(failures, tokens, "30d")),),
        interval="5m",
    )
    return fast, budget


def _percent(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def _burn_alert(settings: Settings, window: BurnWindow) -> Alert:
    threshold = settings.burn_threshold(window)
    name = "TokenBlacklistErrorBudgetBurn"
    return Alert(
        name,
        f"{failure_ratio(window.long)} > {threshold:g}\n"
        f"and on (job)\n"
        f"{failure_ratio(window.short)} > {threshold:g}",
        window.hold,
        window.severity,
        "Token revocations are burning the blacklisting error budget too fast.",
        f"{{{{ $labels.job }}}} failed to revoke {{{{ $value | humanizePercentage }}}} of "
        f"tokens over the last {window.long} (and over {window.short}): {window.factor:g}x the "
        f"budget of the {_percent(settings.objective)} objective. Revoked tokens may still be "
        "accepted.",
        settings.runbook(name),
        {"long_window": window.long, "short_window": window.short},
    )


def _failure_ratio_alert(settings: Settings) -> Alert:
    name = "TokenBlacklistHighFailureRatio"
    threshold = settings.fast_failure_ratio
    return Alert(
        name,
        f"{failure_ratio('5m')} > {threshold:g}",
        "5m",
        "critical",
        "Token revocations are failing: logged-out tokens stay valid.",
        f"{{{{ $labels.job }}}} failed to revoke {{{{ $value | humanizePercentage }}}} of the "
        f"tokens it was asked to blacklist over the last 5m (threshold {_percent(threshold)}).",
        settings.runbook(name),
    )


def _redis_unavailable_alert(settings: Settings) -> Alert:
    name = "TokenBlacklistRedisUnavailable"
    failed = _select(settings, OPERATIONS, 'operation="blacklist", outcome="failure"')
    answered = _select(settings, OPERATIONS, 'operation="blacklist", outcome=~"success|partial"')
    unreachable = _select(settings, TOKEN_FAILURES, f'reason=~"{UNREACHABLE_REASONS}"')
    return Alert(
        name,
        f"sum by (job) (rate({failed}[2m])) > 0\n"
        f"unless on (job)\n"
        f"sum by (job) (rate({answered}[2m])) > 0\n"
        f"and on (job)\n"
        f"sum by (job) (rate({unreachable}[2m])) > 0",
        "2m",
        "critical",
        "Redis is unreachable: no token can be blacklisted.",
        "Every blacklist call of {{ $labels.job }} failed for at least 2 minutes "
        '({{ $value | printf "%.2f" }} failed calls/s, none succeeded) with connection, timeout, '
        "auth or cluster errors.",
        settings.runbook(name),
    )


def _check_errors_alert(settings: Settings) -> Alert:
    name = "TokenBlacklistCheckErrors"
    threshold = settings.check_error_ratio
    return Alert(
        name,
        f"{CHECK_ERROR_RATIO} > {threshold:g}",
        "5m",
        "critical",
        "Blacklist checks are failing: requests are failing open or closed.",
        f"{{{{ $value | humanizePercentage }}}} of the blacklist checks of {{{{ $labels.job }}}} "
        f"could not ask Redis over the last 5m (threshold {_percent(threshold)}); they were "
        "answered by the on_check_error policy (raise, deny or allow).",
        settings.runbook(name),
    )


def _revoke_all_alert(settings: Settings) -> Alert:
    name = "TokenBlacklistRevokeAllFailing"
    threshold = settings.revoke_all_failure_ratio
    return Alert(
        name,
        f"{REVOKE_ALL_FAILURE_RATIO} > {threshold:g}",
        "5m",
        "critical",
        "Logging out everywhere is failing: the other tokens of those users stay valid.",
        f"{{{{ $value | humanizePercentage }}}} of the revoke_all calls of {{{{ $labels.job }}}} "
        f"failed over the last 15m (threshold {_percent(threshold)}): the users who asked to "
        "log out everywhere still have valid tokens elsewhere.",
        settings.runbook(name),
    )


def _latency_alert(settings: Settings) -> Alert:
    name = "TokenBlacklistSlowBlacklisting"
    threshold = settings.blacklist_p99_seconds
    return Alert(
        name,
        f'{LATENCY}{{operation="blacklist", quantile="0.99"}} > {threshold:g}',
        "10m",
        "warning",
        "Blacklisting tokens is slow: logouts wait for it.",
        f"p99 of blacklist_tokens on {{{{ $labels.job }}}} is {{{{ $value | humanizeDuration }}}} "
        f"over the last 5m (threshold {threshold:g}s).",
        settings.runbook(name),
    )


def _absent_alert(settings: Settings) -> Alert:
    name = "TokenBlacklistMetricsAbsent"
    operations = _select(settings, OPERATIONS)
    # The counter's value is not read here, only whether a series is there.
    return Alert(
        name,
        f"group by (job) (present_over_time({operations}[1h]))\n"
        f"unless on (job)\n"
        f"group by (job) ({operations})",
        "10m",
        "warning",
        "The token-blacklist metrics disappeared from a job that exported them.",
        "{{ $labels.job }} exported token_blacklist_operations_total within the last hour "
        "but exports it no more: the instrumentation or the scrape broke, and the other "
        "token-blacklist alerts are blind for this job.",
        settings.runbook(name),
    )


def _cache_bypassed_alert(settings: Settings) -> Alert:
    name = "TokenBlacklistCheckCacheBypassed"
    threshold = settings.check_cache_bypass_ratio
    return Alert(
        name,
        f"{CACHE_BYPASS_RATIO} > {threshold:g}",
        "10m",
        "warning",
        "Cached blacklist checks are going to Redis: the invalidation link is down.",
        f"{{{{ $value | humanizePercentage }}}} of the cached checks of {{{{ $labels.job }}}} "
        f"were sent to Redis over the last 5m (threshold {_percent(threshold)}) because the "
        "check cache's invalidation link was not known fresh; answers stay correct, "
        "latency and Redis load grow.",
        settings.runbook(name),
    )


def _cache_lag_alert(settings: Settings) -> Alert:
    name = "TokenBlacklistCheckCacheLagging"
    threshold = settings.check_cache_heartbeat_seconds
    return Alert(
        name,
        f"{CACHE_HEARTBEAT_P99} > {threshold:g}",
        "10m",
        "warning",
        "The check cache's invalidation link is slow: cached answers fall back to Redis.",
        f"p99 of the check cache heartbeat of {{{{ $labels.job }}}} is "
        f"{{{{ $value | humanizeDuration }}}} over the last 5m (threshold {threshold:g}s): "
        "near max_staleness the cache stops answering from memory.",
        settings.runbook(name),
    )


def alert_groups(settings: Settings) -> tuple[Group, ...]:
    """Every alert, in the order of the runbook."""
    alerts = (
        *(_burn_alert(settings, window) for window in BURN_WINDOWS),
        _failure_ratio_alert(settings),
        _redis_unavailable_alert(settings),
        _check_errors_alert(settings),
        _revoke_all_alert(settings),
        _latency_alert(settings),
        _cache_bypassed_alert(settings),
        _cache_lag_alert(settings),
        _absent_alert(settings),
    )
    return (Group("token_blacklist.alerts", alerts),)
