"""Monitoring mixin of token-blacklist: recording rules, alerts and the Grafana dashboard.

Everything under ``dashboards/prometheus`` and ``dashboards/grafana`` is generated from this
package by ``python -m dashboards.generate`` and committed; the tests regenerate it and
compare. The knobs (SLO objective, thresholds, runbook URL) live in :mod:`dashboards.settings`.
"""
