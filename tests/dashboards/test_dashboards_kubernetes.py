"""The mixin where SREs deploy it: a prometheus-operator PrometheusRule holding exactly the
groups of the rule files, the dashboard in a ConfigMap for Grafana's sidecar, the generator's
deployment flags, and the runbook URL that must be set before deploying."""

# Fixtures imported from dashboards_fixtures are used as test parameters (pytest's way):
# ruff: noqa: F811
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from dashboards.settings import PLACEHOLDER_RUNBOOK_URL, Settings
from dashboards_fixtures import promtool  # noqa: F401 - fixtures
from mixin_inspection import (
    DASHBOARD,
    DASHBOARD_CONFIGMAP,
    KUBERNETES,
    MIXIN,
    PROMETHEUS_RULE,
    ROOT,
    RULE_FILES,
    RUNBOOK,
    load_yaml,
    run_promtool,
)

# prometheus-operator's RuleGroup and Rule (monitoring.coreos.com/v1): the fields it knows.
GROUP_FIELDS = {"name", "interval", "rules", "limit", "partial_response_strategy", "query_offset"}
RULE_FIELDS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
DEFAULT_LABELS = {
    "app.kubernetes.io/name": "token-blacklist",
    "app.kubernetes.io/part-of": "token-blacklist",
}
# kubectl apply (client side) keeps the whole object in an annotation of at most 256 KiB.
LAST_APPLIED_LIMIT = 262_144
DEPLOY_URL = "https://wiki.example.com/sre/token-blacklist/runbook.md"


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboards.generate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _rule_file_groups(root: Path = MIXIN) -> list[Any]:
    return [
        group
        for path in RULE_FILES
        for group in load_yaml(root / path.relative_to(MIXIN))["groups"]
    ]


def _alerts(rule_file: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in rule_file["groups"] for rule in group["rules"] if "alert" in rule]


def _check_metadata(manifest: dict[str, Any], name: str, namespace: str) -> dict[str, str]:
    metadata = manifest["metadata"]
    assert set(metadata) == {"name", "namespace", "labels"}
    assert metadata["name"] == name and DNS_SUBDOMAIN.fullmatch(name)
    assert metadata["namespace"] == namespace
    labels: dict[str, str] = metadata["labels"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()), labels
    return labels


def _check_prometheus_rule(manifest: dict[str, Any], rule_file_groups: list[Any]) -> None:
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "PrometheusRule"
    assert set(manifest) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(manifest["spec"]) == {"groups"}
    groups = manifest["spec"]["groups"]
    assert groups == rule_file_groups  # the same groups, rules, order and text
    for group in groups:
        assert set(group) <= GROUP_FIELDS and isinstance(group["name"], str)
        for rule in group["rules"]:
            assert set(rule) <= RULE_FIELDS, rule
            assert ("record" in rule) != ("alert" in rule)
            assert isinstance(rule["expr"], str)
            # The CRD's labels and annotations are map[string]string: "0.99" not 0.99.
            for key in ("labels", "annotations"):
                values = rule.get(key, {})
                assert all(isinstance(v, str) for v in values.values()), rule


def test_prometheus_rule_holds_exactly_the_rule_files_groups() -> None:
    manifest = load_yaml(PROMETHEUS_RULE)
    _check_prometheus_rule(manifest, _rule_file_groups())
    assert _check_metadata(manifest, "token-blacklist", "monitoring") == DEFAULT_LABELS
    names = [group["name"] for group in manifest["spec"]["groups"]]
    assert names == [
        "token_blacklist.rules",
        "token_blacklist_slo_budget.rules",
        "token_blacklist.alerts",
    ]
    assert manifest["spec"]["groups"][1]["interval"] == "5m"


def test_prometheus_rule_spec_passes_promtool(promtool: str, tmp_path: Path) -> None:
    """What the operator writes for Prometheus is the spec: promtool must accept it."""
    spec = load_yaml(PROMETHEUS_RULE)["spec"]
    rules = tmp_path / "from-prometheusrule.yml"
    rules.write_text(yaml.safe_dump(spec, sort_keys=False))
    output = run_promtool(promtool, "check", "rules", str(rules))
    count = sum(len(group["rules"]) for group in spec["groups"])
    assert f"SUCCESS: {count} rules found" in output


def test_prometheus_rule_structure_check_catches_a_drift() -> None:
    """The equality above can fail: a rule changed in the manifest only is caught."""
    manifest = load_yaml(PROMETHEUS_RULE)
    manifest["spec"]["groups"][2]["rules"][0]["for"] = "1m"
    with pytest.raises(AssertionError):
        _check_prometheus_rule(manifest, _rule_file_groups())
    manifest = load_yaml(PROMETHEUS_RULE)
    manifest["spec"]["groups"][0]["rules"][-1]["labels"]["quantile"] = 0.99
    with pytest.raises(AssertionError):
        _check_prometheus_rule(manifest, manifest["spec"]["groups"])


def _check_configmap(manifest: dict[str, Any], dashboard_text: str, namespace: str) -> None:
    assert manifest["apiVersion"] == "v1" and manifest["kind"] == "ConfigMap"
    assert set(manifest) == {"apiVersion", "kind", "metadata", "data"}
    assert _check_metadata(manifest, "token-blacklist-dashboard", namespace)
    assert manifest["data"] == {DASHBOARD.name: dashboard_text}  # byte for byte
    assert json.loads(manifest["data"][DASHBOARD.name])["uid"] == "token-blacklist"


def test_dashboard_configmap_carries_the_sidecar_label_and_the_dashboard() -> None:
    text = DASHBOARD_CONFIGMAP.read_text()
    manifest = load_yaml(DASHBOARD_CONFIGMAP)
    _check_configmap(manifest, DASHBOARD.read_text(), "monitoring")
    labels = manifest["metadata"]["labels"]
    assert labels == {**DEFAULT_LABELS, "grafana_dashboard": "1"}  # the string "1"
    assert len(text.encode()) < LAST_APPLIED_LIMIT - 10_000


def test_kustomization_lists_both_manifests() -> None:
    kustomization = load_yaml(KUBERNETES / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"] == [PROMETHEUS_RULE.name, DASHBOARD_CONFIGMAP.name]
    assert {p.name for p in KUBERNETES.iterdir()} == {
        "kustomization.yaml",
        *kustomization["resources"],
    }


def test_generate_check_reports_a_stale_manifest(tmp_path: Path) -> None:
    done = _generate("--check", "--objective", "0.99")
    assert done.returncode == 1
    assert "dashboards/kubernetes/prometheusrule.yaml: differs from the generator" in done.stderr
    out = tmp_path / "deploy"
    assert _generate("--out", str(out), "--runbook-url", DEPLOY_URL).returncode == 0
    again = _generate("--check", "--out", str(out), "--runbook-url", DEPLOY_URL)
    assert again.returncode == 0, again.stderr
    stale = out / "kubernetes" / PROMETHEUS_RULE.name
    stale.write_text(stale.read_text().replace("namespace: monitoring", "namespace: other"))
    again = _generate("--check", "--out", str(out), "--runbook-url", DEPLOY_URL)
    assert again.returncode == 1 and f"{stale}: differs from the generator" in again.stderr


def test_generator_flags_set_namespace_labels_and_selector(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    done = _generate(
        "--out", str(out),
        "--runbook-url", DEPLOY_URL,
        "--namespace", "auth-monitoring",
        "--label", "release=kube-prometheus-stack",
        "--label", "app.kubernetes.io/name=login-tokens",
        "--dashboard-label", "grafana_dashboard=yes",
        "--selector", 'job=~"login-.*", namespace="auth"',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rule = load_yaml(out / "kubernetes" / PROMETHEUS_RULE.name)
    _check_prometheus_rule(rule, _rule_file_groups(out))
    labels = {
        "app.kubernetes.io/name": "login-tokens",
        "app.kubernetes.io/part-of": "token-blacklist",
        "release": "kube-prometheus-stack",
    }
    assert _check_metadata(rule, "token-blacklist", "auth-monitoring") == labels
    configmap = load_yaml(out / "kubernetes" / DASHBOARD_CONFIGMAP.name)
    _check_configmap(configmap, (out / "grafana" / DASHBOARD.name).read_text(), "auth-monitoring")
    # "yes" unquoted would be a boolean to YAML 1.1 readers.
    assert configmap["metadata"]["labels"] == {**labels, "grafana_dashboard": "yes"}
    # Every raw selector of every rule carries the selector.
    rules_text = (out / "prometheus" / "rules.yml").read_text()
    raw = re.findall(r"token_blacklist_[a-z_]+\{[^}]*\}", rules_text)
    assert raw and all('job=~"login-.*", namespace="auth"}' in s for s in raw), raw
    # Nothing in the repository changed.
    assert _generate("--check").returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace", "Auth_NS"], "namespace 'Auth_NS'"),
        (["--label", "bad key=v"], "label key 'bad key'"),
        (["--label", "tier=front end"], "label value 'front end'"),
        (["--label", "novalue"], "expected KEY=VALUE"),
        (["--dashboard-label", "grafana_dashboard"], "expected KEY=VALUE"),
        (["--selector", 'namespace="auth"'], "selector must include a job matcher"),
        (["--selector", "job=auth"], "not a PromQL label matcher"),
        (["--runbook-url", "wiki/runbook.md"], "runbook_url must be an http(s) URL"),
        (["--runbook-url", f"{DEPLOY_URL}#top"], "without '#'"),
    ],
)
def test_generator_refuses_bad_flags(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "deploy"
    done = _generate("--out", str(out), "--runbook-url", DEPLOY_URL, *args)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert not out.exists()


# The runbook URL ---------------------------------------------------------------------------


def test_committed_runbook_url_is_an_obvious_placeholder() -> None:
    parts = urlsplit(PLACEHOLDER_RUNBOOK_URL)
    # ".invalid" never resolves (RFC 2606); the host name says what to do.
    assert parts.scheme == "https" and parts.hostname is not None
    assert parts.hostname.endswith(".invalid") and "not-set" in parts.hostname
    assert Settings().runbook_url == PLACEHOLDER_RUNBOOK_URL and Settings().runbook_is_placeholder
    committed = [load_yaml(RULE_FILES[1]), load_yaml(PROMETHEUS_RULE)["spec"]]
    for rule_file in committed:
        alerts = _alerts(rule_file)
        assert len(alerts) >= 10
        for alert in alerts:
            expected = f"{PLACEHOLDER_RUNBOOK_URL}#{alert['alert'].lower()}"
            assert alert["annotations"]["runbook_url"] == expected
    assert json.loads(DASHBOARD.read_text())["links"][0]["url"] == PLACEHOLDER_RUNBOOK_URL
    # The repository URL the mixin used to point at does not exist: gone everywhere.
    shipped = [
        p
        for p in MIXIN.rglob("*")
        if p.is_file() and p.suffix in {".yml", ".yaml", ".json", ".md", ".py"}
    ]
    assert not [p for p in shipped if "github.com/token-blacklist" in p.read_text()]


def test_runbook_url_flag_changes_every_alert_annotation(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    done = _generate("--out", str(out), "--runbook-url", DEPLOY_URL)
    assert done.returncode == 0, done.stderr
    for rule_file in (
        load_yaml(out / "prometheus" / "alerts.yml"),
        load_yaml(out / "kubernetes" / PROMETHEUS_RULE.name)["spec"],
    ):
        alerts = _alerts(rule_file)
        assert len(alerts) == len(_alerts(load_yaml(RULE_FILES[1])))
        for alert in alerts:
            url = alert["annotations"]["runbook_url"]
            assert url == f"{DEPLOY_URL}#{alert['alert'].lower()}"
    board = json.loads((out / "grafana" / DASHBOARD.name).read_text())
    assert [link["url"] for link in board["links"]] == [DEPLOY_URL]
    generated = [p for p in out.rglob("*") if p.is_file()]
    assert len(generated) == 6
    assert not [p for p in generated if "example.invalid" in p.read_text()]


def test_deploying_without_a_runbook_url_is_refused(tmp_path: Path) -> None:
    done = _generate("--out", str(tmp_path / "deploy"))
    assert done.returncode == 2 and "pass --runbook-url" in done.stderr
    assert not (tmp_path / "deploy").exists()


def _section(markdown: str, heading: str) -> str:
    match = re.search(rf"^(#+) {re.escape(heading)}\n(.*?)(?=^#{{1,2}} |\Z)", markdown, re.M | re.S)
    assert match, f"no section {heading!r}"
    return match[2]


def test_readme_and_runbook_say_to_set_the_runbook_url_first() -> None:
    section = _section((ROOT / "README.md").read_text(), "Deploying the mixin")
    steps = re.split(r"^\d+\. ", section, flags=re.M)[1:]  # numbered steps, whole
    assert len(steps) >= 2 and "runbook URL first" in steps[0].split("\n")[0], steps[:1]
    assert "--runbook-url https://" in steps[0]
    for heading in ("Plain Prometheus", "prometheus-operator", "Grafana sidecar"):
        assert re.search(rf"^#+ {heading}", section, re.M), heading
    assert "grafana_dashboard" in section and "ruleSelector" in section
    intro = RUNBOOK.read_text().split("\n## ")[0]
    assert "--runbook-url" in intro and PLACEHOLDER_RUNBOOK_URL in intro
