"""The lint rules monitoring mixins are held to, as code of our own.

mixtool (``mixtool lint``) and grafana/dashboard-linter are Go tools we cannot install here;
these checks follow their rules and the monitoring-mixins style guide, as
``/work/shared/guides/observability-conventions.md`` sums them up:

- rules: alert names CamelCase and at most 40 characters; ``severity`` critical, warning or
  info; ``summary`` a static, capitalised sentence ending with a period; ``description``
  templated; a ``runbook_url``; at most 20 rules a group; recording rules named
  ``level:metric:operations``; a ``job`` matcher on every selector of a raw metric;
  counters only inside ``rate``/``increase``.
- dashboard: a title and a stable uid; a ``datasource`` variable of type ``datasource`` and
  ``job``/``instance`` query variables; every panel with a title, a description, a unit and
  the datasource variable (panel and targets); ``job=~"$job"`` and ``instance=~"$instance"``
  on every selector; counters only inside ``rate``/``increase``; rate windows
  ``[$__rate_interval]``.

The checks read what the files hold (parsed YAML/JSON: plain dicts and lists), not the
generator's objects, so they judge the artefact SREs deploy. Each returns
:class:`Problem` items; no problem means the input passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_ALERT_NAME",
    "MAX_RULES_PER_GROUP",
    "Problem",
    "Selector",
    "lint_dashboard",
    "lint_rules",
    "selectors",
]

MAX_ALERT_NAME = 40
MAX_RULES_PER_GROUP = 20
SEVERITIES = frozenset({"critical", "warning", "info"})
RATE_FUNCTIONS = frozenset({"rate", "increase"})
# Where a counter's value is not read, only whether its series exist (an "absent" alert).
PRESENCE_FUNCTIONS = frozenset({"present_over_time", "absent", "absent_over_time", "group"})
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
DATASOURCE_UIDS = frozenset({"${datasource}", "$datasource"})

_AGGREGATIONS = frozenset(
    {
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    }
)  # fmt: skip
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2"}) | _GROUPING
_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<brace>\{)
    |(?P<range>\[[^\]]*\])
    |(?P<duration>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w:]))
    |(?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<open>\()
    |(?P<close>\))
    |(?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=,@])
    """,
    re.VERBOSE,
)
_MATCHER = re.compile(
    r"""\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*"""
)
_CAMEL_CASE = re.compile(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*")
_RECORD_NAME = re.compile(r"[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+")
_TEMPLATE = re.compile(r"\{\{.*?\$(?:labels|value).*?\}\}")
_UID = re.compile(r"[A-Za-z0-9_-]{1,40}")


@dataclass(frozen=True, slots=True)
class Problem:
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Selector:
    """One vector selector of a PromQL expression."""

    metric: str
    """The metric name ("" for a selector of matchers only)."""
    matchers: tuple[tuple[str, str, str], ...]
    """``(label, operator, value)``, the value unquoted."""
    range: str | None
    """What is inside ``[...]`` when it is a range selector."""
    function: str | None
    """The function or aggregation whose argument the selector directly is (None at the top
    level or inside plain parentheses)."""

    def has(self, label: str, operator: str | None = None, values: Sequence[str] = ()) -> bool:
        return any(
            name == label
            and (operator is None or op == operator)
            and (not values or value in values)
            for name, op, value in self.matchers
        )

    @property
    def recorded(self) -> bool:
        """A recording rule's output (``level:metric:operations``), not a raw metric."""
        return ":" in self.metric

    @property
    def counter(self) -> bool:
        return not self.recorded and self.metric.endswith(COUNTER_SUFFIXES)

    @property
    def level(self) -> frozenset[str]:
        """Labels a recorded series keeps, from its level (``job_operation`` -> job,
        operation); empty for raw metrics."""
        return frozenset(self.metric.split(":")[0].split("_")) if self.recorded else frozenset()


def _tokens(expr: str) -> Iterator[tuple[str, str, int]]:
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise ValueError(f"cannot read PromQL at {expr[position : position + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind == "brace":
            end = _matchers_end(expr, match.end())
            yield "matchers", expr[match.end() : end - 1], position
            position = end
            continue
        if kind != "space":
            yield kind, match.group(), position
        position = match.end()


def _matchers_end(expr: str, start: int) -> int:
    """Index just after the ``}`` closing the matchers that start at ``start``."""
    position = start
    while position < len(expr):
        char = expr[position]
        if char == "}":
            return position + 1
        if char in "\"'":
            string = re.compile(rf"{char}(?:[^{char}\\]|\\.)*{char}").match(expr, position)
            if string is None:
                raise ValueError("unterminated string in matchers")
            position = string.end()
            continue
        position += 1
    raise ValueError("unterminated matchers: missing '}'")


def _parse_matchers(text: str) -> tuple[tuple[str, str, str], ...]:
    found = []
    position = 0
    while text[position:].strip():
        match = _MATCHER.match(text, position)
        if match is None:
            raise ValueError(f"not a label matcher: {text[position:]!r}")
        found.append((match[1], match[2], match[3][1:-1]))
        position = match.end()
        if position < len(text) and text[position] == ",":
            position += 1
    return tuple(found)


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of ``expr`` with the function it is directly an argument of.

    A small reader, not a full PromQL parser: enough for the expressions mixins hold
    (functions, aggregations with ``by``/``without``, binary operators with ``on``/
    ``ignoring``/``group_*``, matchers, ranges, subqueries). ``ValueError`` on text it
    cannot read.
    """
    tokens = list(_tokens(expr))
    found: list[Selector] = []
    stack: list[str | None] = []  # the function of each open parenthesis
    pending: str | None = None  # a function or aggregation waiting for its "("
    index = 0
    while index < len(tokens):
        kind, text, _ = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if kind == "ident" and text in _GROUPING:
            if following is not None and following[0] == "open":
                index = _skip_parentheses(tokens, index + 1)
                continue
        elif kind == "ident" and text in _KEYWORDS:
            pass
        elif kind == "ident" and (
            text in _AGGREGATIONS or (following is not None and following[0] == "open")
        ):
            pending = text
        elif kind in {"ident", "matchers"}:
            metric, matchers = (text, "") if kind == "ident" else ("", text)
            if kind == "ident" and following is not None and following[0] == "matchers":
                matchers = following[1]
                index += 1
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            window = None
            if following is not None and following[0] == "range":
                window = following[1][1:-1]
                index += 1
            found.append(
                Selector(metric, _parse_matchers(matchers), window, stack[-1] if stack else None)
            )
        elif kind == "open":
            stack.append(pending)
            pending = None
        elif kind == "close":
            if not stack:
                raise ValueError("unbalanced ')'")
            stack.pop()
        index += 1
    if stack:
        raise ValueError("unbalanced '('")
    return found


def _skip_parentheses(tokens: list[tuple[str, str, int]], index: int) -> int:
    """Index just after the ``)`` closing the ``(`` at ``index`` (a label list)."""
    depth = 0
    while index < len(tokens):
        kind = tokens[index][0]
        depth += kind == "open"
        depth -= kind == "close"
        index += 1
        if depth == 0:
            return index
    raise ValueError("unbalanced '(' in a label list")


def _read(expr: str, where: str, problems: list[Problem]) -> list[Selector]:
    try:
        return selectors(expr)
    except ValueError as error:
        problems.append(Problem("promql", where, str(error)))
        return []


def _counter_problems(found: Sequence[Selector], where: str) -> list[Problem]:
    return [
        Problem(
            "counter-rate",
            where,
            f"counter {s.metric} is read as {s.function or 'a value'}(...), not inside "
            "rate() or increase()",
        )
        for s in found
        if s.counter and s.function not in RATE_FUNCTIONS | PRESENCE_FUNCTIONS
    ]


def _alert_problems(rule: Mapping[str, Any], where: str) -> list[Problem]:
    problems = []
    name = str(rule.get("alert", ""))
    if not _CAMEL_CASE.fullmatch(name):
        problems.append(Problem("alert-name", where, f"{name!r} is not CamelCase"))
    if len(name) > MAX_ALERT_NAME:
        problems.append(
            Problem("alert-name", where, f"{name!r} is longer than {MAX_ALERT_NAME} characters")
        )
    severity = (rule.get("labels") or {}).get("severity")
    if severity not in SEVERITIES:
        problems.append(
            Problem(
                "alert-severity", where, f"severity {severity!r} is not one of {sorted(SEVERITIES)}"
            )
        )
    annotations = rule.get("annotations") or {}
    summary = str(annotations.get("summary", ""))
    if not summary:
        problems.append(Problem("alert-summary", where, "no summary"))
    else:
        if "{{" in summary:
            problems.append(Problem("alert-summary", where, "summary is templated: keep it static"))
        if not summary[0].isupper():
            problems.append(
                Problem("alert-summary", where, "summary does not start with a capital")
            )
        if not summary.endswith("."):
            problems.append(Problem("alert-summary", where, "summary does not end with a period"))
    if not _TEMPLATE.search(str(annotations.get("description", ""))):
        problems.append(
            Problem("alert-description", where, "description is not templated ($labels/$value)")
        )
    if not str(annotations.get("runbook_url", "")).startswith(("https://", "http://")):
        problems.append(Problem("alert-runbook", where, "no runbook_url"))
    return problems


def lint_rules(rule_file: Mapping[str, Any]) -> list[Problem]:
    """Problems of a rule file's content (``{"groups": [...]}``, as YAML parses it; a
    PrometheusRule's ``spec`` has the same shape)."""
    problems: list[Problem] = []
    names = [str(group.get("name", "")) for group in rule_file.get("groups", [])]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem("group-name", duplicate, "group name used twice"))
    for group in rule_file.get("groups", []):
        rules = group.get("rules") or []
        if len(rules) > MAX_RULES_PER_GROUP:
            problems.append(
                Problem(
                    "group-size",
                    str(group.get("name")),
                    f"{len(rules)} rules: at most {MAX_RULES_PER_GROUP} a group",
                )
            )
        for rule in rules:
            name = rule.get("alert") or rule.get("record") or "?"
            where = f"{group.get('name')}/{name}"
            if "alert" in rule:
                problems.extend(_alert_problems(rule, where))
            elif not _RECORD_NAME.fullmatch(str(rule.get("record", ""))):
                problems.append(Problem("record-name", where, "not named level:metric:operations"))
            found = _read(str(rule.get("expr", "")), where, problems)
            problems.extend(
                Problem("rule-job-matcher", where, f"{s.metric or '{...}'} has no job matcher")
                for s in found
                if not s.recorded and not s.has("job")
            )
            problems.extend(_counter_problems(found, where))
    return problems


def _variable_problems(board: Mapping[str, Any]) -> list[Problem]:
    variables = {v.get("name"): v for v in (board.get("templating") or {}).get("list", [])}
    problems = []
    datasource = variables.get("datasource")
    if datasource is None or datasource.get("type") != "datasource":
        problems.append(
            Problem(
                "template-datasource", "templating", "no variable 'datasource' of type datasource"
            )
        )
    elif datasource.get("query") != "prometheus":
        problems.append(
            Problem(
                "template-datasource", "templating", "the datasource variable is not for prometheus"
            )
        )
    for name in ("job", "instance"):
        variable = variables.get(name)
        if variable is None or variable.get("type") != "query":
            problems.append(
                Problem(f"template-{name}", "templating", f"no query variable {name!r}")
            )
        elif (variable.get("datasource") or {}).get("uid") not in DATASOURCE_UIDS:
            problems.append(
                Problem(f"template-{name}", "templating", f"${name} does not query $datasource")
            )
        elif not variable.get("multi") or not variable.get("includeAll"):
            problems.append(
                Problem(f"template-{name}", "templating", f"${name} is not multi-value with All")
            )
    return problems


def _panels(board: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])  # a collapsed row holds its panels
        else:
            yield panel


def _target_problems(expr: str, where: str) -> list[Problem]:
    problems: list[Problem] = []
    found = _read(expr, where, problems)
    for s in found:
        name = s.metric or "{...}"
        if not s.has("job", "=~", ("$job", "${job}")):
            problems.append(Problem("target-job", where, f'{name} has no job=~"$job"'))
        # A recorded series keeps the labels of its level only (job:...: no instance).
        needs_instance = not s.recorded or "instance" in s.level
        if needs_instance and not s.has("instance", "=~", ("$instance", "${instance}")):
            problems.append(
                Problem("target-instance", where, f'{name} has no instance=~"$instance"')
            )
        if s.range is not None and s.range != "$__rate_interval":
            problems.append(
                Problem("target-rate-interval", where, f"{name}[{s.range}]: use $__rate_interval")
            )
    problems.extend(_counter_problems(found, where))
    return problems


def lint_dashboard(board: Mapping[str, Any]) -> list[Problem]:
    """Problems of a Grafana dashboard (its JSON model, parsed)."""
    problems = []
    if not str(board.get("title", "")).strip():
        problems.append(Problem("dashboard-title", "dashboard", "no title"))
    if not _UID.fullmatch(str(board.get("uid") or "")):
        problems.append(
            Problem("dashboard-uid", "dashboard", "no stable uid (1-40 of A-Z a-z 0-9 _ -)")
        )
    problems.extend(_variable_problems(board))
    for panel in _panels(board):
        where = f"panel {panel.get('title') or panel.get('id')!r}"
        if not str(panel.get("title", "")).strip():
            problems.append(Problem("panel-title", where, "no title"))
        if not str(panel.get("description", "")).strip():
            problems.append(Problem("panel-description", where, "no description"))
        if not ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("unit"):
            problems.append(Problem("panel-unit", where, "no unit"))
        if (panel.get("datasource") or {}).get("uid") not in DATASOURCE_UIDS:
            problems.append(Problem("panel-datasource", where, "does not use $datasource"))
        targets = panel.get("targets") or []
        if not targets:
            problems.append(Problem("panel-targets", where, "no query"))
        for target in targets:
            target_where = f"{where} target {target.get('refId')}"
            if (target.get("datasource") or {}).get("uid") not in DATASOURCE_UIDS:
                problems.append(
                    Problem("panel-datasource", target_where, "does not use $datasource")
                )
            problems.extend(_target_problems(str(target.get("expr", "")), target_where))
    return problems
