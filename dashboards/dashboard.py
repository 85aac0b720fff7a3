"""The Grafana dashboard, built with grafana-foundation-sdk (pinned in the ``test`` extra).

Every panel and query uses the ``$datasource`` variable, filters on ``$job``/``$instance``,
rates over ``$__rate_interval``, and has a unit and a description (:mod:`dashboards.lint`
checks it). The runbook is linked from the dashboard's links (top right) and every alert.
Alert thresholds drawn on the panels come from the same :class:`~dashboards.settings.Settings`
as the alerts.
"""

from __future__ import annotations

import warnings

from .rules import CHECKS, DURATION, OPERATIONS, TOKEN_FAILURES, TOKENS, failure_ratio
from .settings import BURN_WINDOWS, Settings

with warnings.catch_warnings():
    # The classic (v1) dashboard model imports in every Grafana from 10 to 12; the SDK
    # nudges towards v2 with a DeprecationWarning at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dash
    from grafana_foundation_sdk.builders import heatmap, prometheus, stat, timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as model
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat

__all__ = ["SELECTOR", "build_dashboard", "render_dashboard"]

DATASOURCE = common.DataSourceRef(type_val="prometheus", uid="${datasource}")
SELECTOR = 'job=~"$job", instance=~"$instance"'
RATE = "[$__rate_interval]"

Panel = timeseries.Panel | stat.Panel | heatmap.Panel


def _rate(metric: str, matchers: str = "", by: str = "") -> str:
    labels = f"{matchers}, {SELECTOR}" if matchers else SELECTOR
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{{{labels}}}{RATE}))"


def _query(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref)
        .datasource(DATASOURCE)
        .range()
    )


def _thresholds(base: str, steps: list[tuple[float, str]]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [model.Threshold(value=None, color=base)] + [model.Threshold(v, c) for v, c in steps]
        )
    )


def _stat(title: str, description: str, unit: str, query: prometheus.Dataquery) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .with_target(query)
        .height(5)
        .span(6)
        .graph_mode(common.BigValueGraphMode.AREA)
        .color_mode(common.BigValueColorMode.VALUE)
        .no_value("no traffic")
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
    )


def _timeseries(
    title: str, description: str, unit: str, *queries: prometheus.Dataquery
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .height(8)
        .span(12)
        .min(0)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "max"])
        )
    )
    for query in queries:
        panel = panel.with_target(query)
    return panel


def _threshold_lines(panel: timeseries.Panel, steps: list[tuple[float, str]]) -> timeseries.Panel:
    return panel.thresholds(_thresholds("transparent", steps)).thresholds_style(
        common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
    )


def _ratio_query(numerator: str, matchers: str, denominator: str, by: str = "job") -> str:
    # "> 0": no traffic shows as no data ("no traffic" on stats), never as NaN.
    return f"{_rate(numerator, matchers, by)}\n/\n({_rate(denominator, by=by)} > 0)"


def _overview(settings: Settings) -> list[Panel]:
    budget = settings.error_budget
    failures = _ratio_query(TOKEN_FAILURES, "", TOKENS, by="")
    budget_left = f'1 - {failure_ratio("30d")}{{job=~"$job"}} / {budget:g}'
    return [
        _stat(
            "Tokens revoked",
            "Tokens per second whose revocation Redis acknowledged.",
            "ops",
            _query(_rate(TOKENS, 'outcome="succeeded"'), "revoked/s"),
        ),
        _stat(
            "Token failure ratio",
            "Share of tokens asked to be blacklisted that Redis did not confirm: those "
            "tokens are still valid. Red at the TokenBlacklistHighFailureRatio threshold.",
            "percentunit",
            _query(failures, "failed"),
        ).thresholds(_thresholds("green", [(settings.fast_failure_ratio, "red")])),
        _stat(
            "Error budget left (30d)",
            f"Share of the 30-day error budget of the {settings.objective:g} objective "
            "not spent yet, per job. Needs the recording rules of "
            "dashboards/prometheus/rules.yml.",
            "percentunit",
            _query(budget_left, "{{job}}"),
        ).thresholds(_thresholds("red", [(0.0, "orange"), (0.25, "green")])),
        _stat(
            "Check error ratio",
            "Share of blacklist checks answered by the on_check_error policy because "
            "Redis failed (fail open or fail closed).",
            "percentunit",
            _query(_ratio_query(CHECKS, 'result="error"', CHECKS, by=""), "errors"),
        ).thresholds(_thresholds("green", [(settings.check_error_ratio, "red")])),
    ]


def _failure_panels(settings: Settings) -> list[Panel]:
    burn_lines = sorted({settings.burn_threshold(window) for window in BURN_WINDOWS})
    colors = ["yellow", "orange", "dark-orange", "red"][-len(burn_lines) :]
    steps = list(zip(burn_lines, colors, strict=True))
    steps.append((settings.fast_failure_ratio, "dark-red"))
    ratio = _timeseries(
        "Token failure ratio",
        "Failed / attempted tokens per job. Lines: the failure ratios at which the SLO "
        f"burn-rate alerts fire ({', '.join(f'{v:g}' for v in burn_lines)}) and the fast "
        f"TokenBlacklistHighFailureRatio threshold ({settings.fast_failure_ratio:g}).",
        "percentunit",
        _query(_ratio_query(TOKEN_FAILURES, "", TOKENS), "{{job}}"),
    )
    by_reason = _timeseries(
        "Failed tokens by reason",
        "Tokens not blacklisted per second, by FailureReason (oom, noperm, readonly, auth, "
        "connection, timeout, cluster_down, unavailable, other). The runbook maps each "
        "reason to its likely cause.",
        "ops",
        _query(_rate(TOKEN_FAILURES, by="reason"), "{{reason}}"),
    ).stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    return [_threshold_lines(ratio, steps), by_reason]


def _operation_panels(settings: Settings) -> list[Panel]:
    batch = "token_blacklist_batch_size"
    buckets = _rate(f"{batch}_bucket", by="le")
    failed = _rate(OPERATIONS, 'operation="revoke_all", outcome="failure"', "job")
    calls = _rate(OPERATIONS, 'operation="revoke_all", outcome=~"success|failure"', "job")
    revoke_all = _timeseries(
        "Log out everywhere: failed calls",
        "Share of revoke_all calls per job that failed (Redis did not store the subject's "
        "not-before: the user's other tokens stay valid). The line is the "
        "TokenBlacklistRevokeAllFailing threshold.",
        "percentunit",
        _query(f"{failed}\n/\n({calls} > 0)", "{{job}}"),
    )
    return [
        _threshold_lines(revoke_all, [(settings.revoke_all_failure_ratio, "red")]),
        _timeseries(
            "Calls by outcome",
            "Library calls per second. partial: some tokens failed; failure: none "
            "succeeded; rejected: invalid input refused before anything was sent.",
            "ops",
            _query(_rate(OPERATIONS, by="operation, outcome"), "{{operation}} {{outcome}}"),
        ),
        _timeseries(
            "Batch size",
            "Distinct tokens per blacklist call: median, p99 and mean.",
            "short",
            _query(f"histogram_quantile(0.5, {buckets})", "p50", "A"),
            _query(f"histogram_quantile(0.99, {buckets})", "p99", "B"),
            _query(f"{_rate(f'{batch}_sum')}\n/\n{_rate(f'{batch}_count')}", "mean", "C"),
        ),
    ]


def _latency_panels(settings: Settings) -> list[Panel]:
    buckets = _rate(f"{DURATION}_bucket", by="operation, le")
    quantiles = [
        _query(f"histogram_quantile({q}, {buckets})", f"p{name} {{{{operation}}}}", ref)
        for q, name, ref in ((0.5, "50", "A"), (0.9, "90", "B"), (0.99, "99", "C"))
    ]
    latency = _timeseries(
        "Call latency",
        "Wall time of library calls (retries included) by operation. The line is the "
        "TokenBlacklistSlowBlacklisting threshold on the p99 of blacklist calls.",
        "s",
        *quantiles,
    )
    distribution = (
        heatmap.Panel()
        .title("Blacklist latency distribution")
        .description(
            "Blacklist calls per latency bucket. Exemplars (dots) carry the trace_id of a "
            "sampled call: click one to open its trace (the Prometheus data source needs "
            "an exemplar link for trace_id, see dashboards/grafana/provisioning).",
        )
        .unit("s")
        .datasource(DATASOURCE)
        .height(8)
        .span(12)
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit("s"))
        .exemplars_color("rgba(255,0,255,0.7)")
        .with_target(
            _query(_rate(f"{DURATION}_bucket", 'operation="blacklist"', by="le"), "{{le}}")
            .format(PromQueryFormat.HEATMAP)
            .exemplar(True)
        )
    )
    line = [(settings.blacklist_p99_seconds, "red")]
    return [_threshold_lines(latency, line), distribution]


def _check_panels(settings: Settings) -> list[Panel]:
    ratio = _timeseries(
        "Check error ratio",
        "Share of checks per job that Redis could not answer. The line is the "
        "TokenBlacklistCheckErrors threshold.",
        "percentunit",
        _query(_ratio_query(CHECKS, 'result="error"', CHECKS), "{{job}}"),
    )
    return [
        _timeseries(
            "Check results",
            "Token hashes checked per second: blacklisted, not_blacklisted, or error "
            "(answered by the on_check_error policy).",
            "ops",
            _query(_rate(CHECKS, by="result"), "{{result}}"),
        ),
        _threshold_lines(ratio, [(settings.check_error_ratio, "red")]),
    ]


def _cache_panels(settings: Settings) -> list[Panel]:
    cache = "token_blacklist_check_cache_total"
    heartbeat = "token_blacklist_check_cache_heartbeat_seconds_bucket"
    bypass = _timeseries(
        "Check cache bypass ratio",
        "Share of cached checks (check_cache=) sent to Redis because the invalidation link "
        "was not known fresh. The line is the TokenBlacklistCheckCacheBypassed threshold.",
        "percentunit",
        _query(_ratio_query(cache, 'result="bypass"', cache), "{{job}}"),
    )
    lag = _timeseries(
        "Check cache heartbeat p99",
        "Round trip of the invalidation link's heartbeat: how late an invalidation can be "
        "known to have arrived. The line is the TokenBlacklistCheckCacheLagging threshold.",
        "s",
        _query(f"histogram_quantile(0.99, {_rate(heartbeat, by='job, le')})", "{{job}}"),
    )
    return [
        _timeseries(
            "Check cache answers",
            "Cached checks per second: hit (from memory), miss (from Redis, then stored), "
            "bypass (from Redis: the link was not fresh). Empty when no client uses "
            "check_cache=.",
            "ops",
            _query(_rate(cache, by="result"), "{{result}}"),
        ),
        _timeseries(
            "Check cache link losses",
            "Invalidation links lost or in doubt per second, by job: each one emptied a "
            "process's cache (a cut connection, a late heartbeat, a failover).",
            "ops",
            _query(_rate("token_blacklist_check_cache_link_losses_total", by="job"), "{{job}}"),
        ),
        _threshold_lines(bypass, [(settings.check_cache_bypass_ratio, "red")]),
        _threshold_lines(lag, [(settings.check_cache_heartbeat_seconds, "red")]),
    ]


def _variables() -> list[dash.DatasourceVariable | dash.QueryVariable]:
    job_query = f"label_values({OPERATIONS}, job)"
    instance_query = f'label_values({OPERATIONS}{{job=~"$job"}}, instance)'
    return [
        dash.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        *(
            dash.QueryVariable(name)
            .label(name)
            .datasource(DATASOURCE)
            .query(query)
            .definition(query)
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".+")
            for name, query in (("job", job_query), ("instance", instance_query))
        ),
    ]


def build_dashboard(settings: Settings) -> dash.Dashboard:
    """The dashboard builder (call ``.build()`` for the model)."""
    board = (
        dash.Dashboard("Token blacklist")
        .uid(settings.dashboard_uid)
        .description("Revocation of auth tokens in Redis: failures, latency, checks.")
        .tags(["token-blacklist", "redis", "security"])
        .editable()
        .time("now-6h", "now")
        .refresh("30s")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .variables(list(_variables()))
        .link(
            dash.DashboardLink("Runbook")
            .tooltip("What each token-blacklist alert means and what to do")
            .type(model.DashboardLinkType.LINK)
            .url(settings.runbook_url)
            .target_blank(True)
        )
    )
    rows = (
        ("Overview", _overview(settings)),
        ("Token failures", _failure_panels(settings)),
        ("Operations", _operation_panels(settings)),
        ("Latency", _latency_panels(settings)),
        ("Checks", _check_panels(settings)),
        ("Check cache", _cache_panels(settings)),
    )
    panel_id = 0
    for title, panels in rows:
        panel_id += 1
        board = board.with_row(dash.Row(title).id(panel_id))
        for panel in panels:
            panel_id += 1
            board = board.with_panel(panel.id(panel_id))
    return board


def render_dashboard(settings: Settings) -> str:
    """The committed JSON text: sorted keys, two-space indent, final newline."""
    return JSONEncoder(sort_keys=True, indent=2).encode(build_dashboard(settings).build()) + "\n"
