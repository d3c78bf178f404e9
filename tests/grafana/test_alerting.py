"""The alert rules: their shape against Grafana's provisioning format, and each one run the way
Grafana runs it — InfluxQL with ``$timeFilter`` over the query's ``relativeTimeRange``, against
the real InfluxDB seeded by simulated sites (``seeded_influx``), then Grafana's reduce / math /
threshold expressions and the pending period (``for``) — firing inside its seeded fault window
and silent in the normal period.

The expression evaluator below follows Grafana's server-side expressions
(https://grafana.com/docs/grafana/latest/panels-visualizations/query-transform-data/expression-queries/):

- a query's result is one series per InfluxDB series, labelled with its tags;
- **reduce** turns each series into one number (``last``, ``mean``, ``max``, ``min``, ``sum``,
  ``count``); mode ``dropNN`` drops null/NaN points first, an empty series reduces to NaN;
- **math** applies ``+ - * /`` to numbers; between two sets, items join when the labels of one
  are equal to or a subset of the other's (unmatched items are dropped);
- **threshold** gives 1 where the comparison holds, else 0 (NaN compares false);
- an alert instance is one label set; it is *Alerting* at time T when the condition is non-zero
  at every evaluation from T − ``for`` to T, one group ``interval`` apart
  (https://grafana.com/docs/grafana/latest/alerting/fundamentals/alert-rule-evaluation/);
- a data query with no series is *No Data*: with ``noDataState: Alerting`` one instance with no
  labels fires, with ``OK`` nothing does
  (https://grafana.com/docs/grafana/latest/alerting/fundamentals/alert-rule-evaluation/nodata-and-error-states/).
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from carbonline.grafana import alerting
from carbonline.grafana.datasource import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID

NS_PER_S = 10**9
MINUTE_NS = 60 * NS_PER_S

# --- Grafana's allowed values (pkg/services/ngalert/models, file-provisioning docs) ---------
NO_DATA_STATES = {"Alerting", "NoData", "OK", "KeepLast"}
EXEC_ERR_STATES = {"Alerting", "Error", "OK", "KeepLast"}
REDUCERS = {"last", "mean", "max", "min", "sum", "count", "median"}
EVALUATORS = {"gt", "lt", "within_range", "outside_range"}
RULE_KEYS = {"uid", "title", "condition", "data", "noDataState", "execErrState", "for",
             "labels", "annotations", "isPaused"}
GROUP_KEYS = {"orgId", "name", "folder", "interval", "rules"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")

#: rule uid → the seeded period whose fault it must catch (tests/grafana/conftest.py). A new
#: rule without an entry fails test_every_rule_has_a_fault_to_catch.
FAULTS = {
    "carbonline-alert-open": "valve_leak",
    "carbonline-deviation": "valve_leak",
    "carbonline-threshold": "grid_spike",  # the leak's intensity sits at sku-2b's threshold
    "carbonline-grid-spike": "grid_spike",
    "carbonline-line-silent": "line_silent",
}
#: The seeded site where nothing happens: no rule may fire there, fault window or not.
QUIET_SITE = "porto"


def all_rules() -> list[dict]:
    return [rule for group in alerting.rule_groups() for rule in group["rules"]]


def seconds(duration: str) -> int:
    """A Prometheus-style duration ("5m", "1h30m", "0s") in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return int(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)))


def group_by_tags(query: str) -> set[str]:
    """The tags of the outermost ``GROUP BY`` (the labels Grafana gives each series)."""
    clause = query.rsplit("GROUP BY", 1)[-1] if "GROUP BY" in query else ""
    return set(re.findall(r'"([^"]+)"', clause))


# --- structure -------------------------------------------------------------------------------

def test_groups_have_the_file_provisioning_shape() -> None:
    groups = alerting.rule_groups()
    assert groups, "no rule group"
    for group in groups:
        assert set(group) == GROUP_KEYS
        assert group["orgId"] == 1 and group["folder"] == FOLDER_TITLE
        assert DURATION.match(group["interval"]), group["interval"]
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert set(rule) == RULE_KEYS, rule["uid"]
            assert rule["noDataState"] in NO_DATA_STATES, rule["uid"]
            assert rule["execErrState"] in EXEC_ERR_STATES, rule["uid"]
            assert DURATION.match(rule["for"]), rule["for"]
            assert rule["isPaused"] is False


def test_uids_and_titles_are_unique() -> None:
    rules = all_rules()
    assert len({r["uid"] for r in rules}) == len(rules)
    assert len({r["title"] for r in rules}) == len(rules)  # unique within the folder
    assert all(0 < len(r["uid"]) <= 40 for r in rules)  # Grafana's uid length limit


def test_api_rules_are_the_same_rules_in_the_carbonline_folder() -> None:
    """``rules()`` (HTTP API shape, for ``grafana push``) holds what the file holds."""
    api = {r["uid"]: r for r in alerting.rules()}
    for group in alerting.rule_groups():
        for rule in group["rules"]:
            pushed = api[rule["uid"]]
            assert pushed["folderUID"] == FOLDER_UID and pushed["ruleGroup"] == group["name"]
            assert {k: pushed[k] for k in rule} == rule
    assert len(api) == len(all_rules())


def test_queries_and_expressions_refer_to_what_exists() -> None:
    for rule in all_rules():
        refs: list[str] = []
        for query in rule["data"]:
            model = query["model"]
            assert query["refId"] == model["refId"], rule["uid"]
            if query["datasourceUid"] == alerting.EXPRESSION_UID:
                if model["type"] == "math":
                    used = re.findall(r"\$\{?([A-Za-z]\w*)", model["expression"])
                else:
                    used = [model["expression"]]
                    if model["type"] == "reduce":
                        assert model["reducer"] in REDUCERS
                    else:
                        assert model["type"] == "threshold"
                        for condition in model["conditions"]:
                            assert condition["evaluator"]["type"] in EVALUATORS
                assert used and set(used) <= set(refs), (rule["uid"], model)
            else:
                assert query["datasourceUid"] == DATASOURCE_UID, rule["uid"]
                span = query["relativeTimeRange"]
                assert span["from"] > span["to"] >= 0, rule["uid"]
                assert model["rawQuery"] is True and model["datasource"]["uid"] == DATASOURCE_UID
            refs.append(query["refId"])
        assert len(set(refs)) == len(refs), rule["uid"]
        assert rule["condition"] in refs, rule["uid"]


def test_alert_queries_use_no_template_variable() -> None:
    """Only the ``$timeFilter`` macro: dashboard variables and ``$__interval`` have no value
    when Grafana evaluates a rule."""
    for rule in all_rules():
        for query in rule["data"]:
            if query["datasourceUid"] == DATASOURCE_UID:
                text = query["model"]["query"].replace("$timeFilter", "")
                assert "$" not in text, (rule["uid"], text)
                assert "\"window\" = '1m'" in text or "carbon_intensity" not in text


def test_every_rule_routes_by_site_line_severity_cause() -> None:
    """Routing labels come from the rule (static) or from the series' tags (GROUP BY); a
    ``$`` in a label would be eaten by Grafana's environment interpolation."""
    for rule in all_rules():
        static = rule["labels"]
        assert static["source"] == "carbonline"
        assert not any("$" in k + v for k, v in static.items()), rule["uid"]
        tags = set.union(*(group_by_tags(q["model"]["query"]) for q in rule["data"]
                           if q["datasourceUid"] == DATASOURCE_UID))
        carried = set(static) | tags
        assert {"site", "severity", "cause"} <= carried, (rule["uid"], carried)
        assert not (set(static) & tags), rule["uid"]  # a tag never overridden by a constant
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["uid"]


def test_every_rule_has_a_fault_to_catch() -> None:
    assert set(FAULTS) == {rule["uid"] for rule in all_rules()}


# --- Grafana's evaluation, in Python -------------------------------------------------------

Labels = frozenset  # of (name, value) pairs
Numbers = dict  # Labels → float


def series_of(body: dict) -> list[tuple[Labels, list[float | None]]]:
    """InfluxDB's JSON answer as Grafana's frames: one per series and value column."""
    frames = []
    for result in body.get("results", []):
        for series in result.get("series", []):
            labels = Labels((series.get("tags") or {}).items())
            for column in range(1, len(series["columns"])):
                frames.append((labels, [row[column] for row in series["values"]]))
    return frames


REDUCE: dict[str, Callable[[list[float]], float]] = {
    "last": lambda v: v[-1], "mean": lambda v: sum(v) / len(v), "max": max, "min": min,
    "sum": sum, "count": len, "median": lambda v: sorted(v)[len(v) // 2]}


def reduce(frames: list[tuple[Labels, list]], reducer: str, mode: str | None) -> Numbers:
    out = {}
    for labels, values in frames:
        numbers = [float(v) for v in values if v is not None]
        if mode == "dropNN":
            numbers = [v for v in numbers if not math.isnan(v)]
        out[labels] = REDUCE[reducer](numbers) if numbers else math.nan
    return out


OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
             ast.Div: lambda a, b: a / b if b else math.nan}


def math_expression(expression: str, refs: dict[str, Numbers]) -> Numbers:
    """``$A / $B * 100 - 100`` and the like, with Grafana's label join between sets."""
    def value(node: ast.AST) -> Numbers | float:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return refs[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return combine(-1.0, value(node.operand), operator.mul)
        assert isinstance(node, ast.BinOp), ast.dump(node)
        return combine(value(node.left), value(node.right), OPERATORS[type(node.op)])

    result = value(ast.parse(expression.replace("$", ""), mode="eval").body)
    assert isinstance(result, dict), f"{expression} gives no series"
    return result


def combine(a: Numbers | float, b: Numbers | float, op: Callable) -> Numbers | float:
    if not isinstance(a, dict) and not isinstance(b, dict):
        return op(a, b)
    if not isinstance(a, dict):
        return {labels: op(a, v) for labels, v in b.items()}
    if not isinstance(b, dict):
        return {labels: op(v, b) for labels, v in a.items()}
    return {la | lb: op(va, vb) for la, va in a.items() for lb, vb in b.items()
            if la <= lb or lb <= la}


COMPARE = {"gt": lambda v, p: v > p[0], "lt": lambda v, p: v < p[0],
           "within_range": lambda v, p: p[0] < v < p[1],
           "outside_range": lambda v, p: v < p[0] or v > p[1]}


@dataclass
class Evaluation:
    """One evaluation of a rule at ``time``: the condition per label set, and whether a data
    query came back empty (No Data)."""

    condition: Numbers
    no_data: bool


def evaluate(rule: dict, time_ns: int, run: Callable[[str], dict],
             expand: Callable[..., str]) -> Evaluation:
    """Run every query of ``rule`` as Grafana would at ``time_ns``."""
    results: dict[str, Numbers | list] = {}
    no_data = False
    for query in rule["data"]:
        model = query["model"]
        if query["datasourceUid"] == DATASOURCE_UID:
            span = query["relativeTimeRange"]
            text = expand(model["query"], start_ns=time_ns - span["from"] * NS_PER_S,
                          end_ns=time_ns - span["to"] * NS_PER_S, interval_s=60)
            frames = series_of(run(text))
            no_data = no_data or not frames
            results[query["refId"]] = frames
        elif model["type"] == "reduce":
            results[query["refId"]] = reduce(results[model["expression"]], model["reducer"],
                                             model.get("settings", {}).get("mode"))
        elif model["type"] == "math":
            results[query["refId"]] = math_expression(model["expression"], results)
        else:
            (condition,) = model["conditions"]
            test = COMPARE[condition["evaluator"]["type"]]
            params = condition["evaluator"]["params"]
            results[query["refId"]] = {
                labels: float(not math.isnan(v) and test(v, params))
                for labels, v in results[model["expression"]].items()}
    return Evaluation(results[rule["condition"]], no_data)


def alerting_at(rule: dict, interval_s: int, time_ns: int, run: Callable[[str], dict],
                expand: Callable[..., str]) -> set[Labels]:
    """The label sets Alerting at ``time_ns``: firing at each evaluation of the pending
    period, as Grafana's state machine moves an instance Normal → Pending → Alerting."""
    steps = seconds(rule["for"]) // interval_s
    firing: set[Labels] | None = None
    for step in range(steps, -1, -1):
        evaluation = evaluate(rule, time_ns - step * interval_s * NS_PER_S, run, expand)
        now = {labels for labels, v in evaluation.condition.items() if v}
        if evaluation.no_data and rule["noDataState"] == "Alerting":
            now.add(Labels())
        firing = now if firing is None else firing & now
    return firing or set()


# --- each rule against the seeded data -----------------------------------------------------

def _rules_with_interval() -> list[tuple[dict, int]]:
    return [(rule, seconds(group["interval"])) for group in alerting.rule_groups()
            for rule in group["rules"]]


@pytest.fixture
def runner(seeded_influx) -> Callable[[str], dict]:
    return lambda query: seeded_influx.influx.query(query, seeded_influx.database)


@pytest.mark.parametrize(("rule", "interval_s"), _rules_with_interval(),
                         ids=[rule["uid"] for rule, _ in _rules_with_interval()])
def test_rule_fires_in_its_fault_window_only(rule, interval_s, seeded_influx, runner,
                                             expand_macros) -> None:
    """Three quarters into the fault window, the rule is Alerting for the faulty site and
    line; at every fifth minute of the normal period it is not Alerting anywhere."""
    period = FAULTS[rule["uid"]]
    start, end = seeded_influx.periods[period]
    site, line = seeded_influx.where[period]
    at = start + (end - start) * 3 // 4
    at -= at % MINUTE_NS
    firing = [dict(labels) for labels in alerting_at(rule, interval_s, at, runner, expand_macros)]
    assert any(f.get("site") == site and f.get("line", line) == line for f in firing), (
        f"{rule['uid']} not Alerting for {site} {line} at {period} ({firing})")
    assert not [f for f in firing if f.get("site") == QUIET_SITE], firing

    normal_start, normal_end = seeded_influx.periods["normal"]
    for t in range(normal_start, normal_end + 1, 5 * MINUTE_NS):
        quiet = alerting_at(rule, interval_s, t, runner, expand_macros)
        assert not quiet, f"{rule['uid']} Alerting in the normal period: {quiet}"


def test_evaluator_joins_and_thresholds_like_grafana() -> None:
    """The evaluator itself, on hand-made numbers: a join by label subset, NaN never fires."""
    a = {Labels({("site", "x")}): 0.5, Labels({("site", "y")}): 0.3}
    b = {Labels({("site", "x")}): 0.25}
    ratio = math_expression("$a / $b * 100 - 100", {"a": a, "b": b})
    assert ratio == {Labels({("site", "x")}): 100.0}  # y has no partner: dropped
    frames = [(Labels({("site", "x")}), [1.0, None, 3.0]), (Labels({("site", "y")}), [None])]
    reduced = reduce(frames, "last", "dropNN")
    assert reduced[Labels({("site", "x")})] == 3.0 and math.isnan(reduced[Labels({("site", "y")})])
    assert not COMPARE["gt"](math.nan, [0]) and COMPARE["gt"](0.1, [0])


def test_alert_open_ends_when_carbonline_resolves(seeded_influx, runner, expand_macros) -> None:
    """A quarter of an hour after the leak is repaired carbonline has written the closing
    ``resolved`` point, which cancels the opening: the rule no longer fires for the line
    though the opening is still inside its week-long range."""
    (rule,) = [r for r in all_rules() if r["uid"] == "carbonline-alert-open"]
    start, end = seeded_influx.periods["valve_leak"]
    site, line = seeded_influx.where["valve_leak"]
    opened = alerting_at(rule, 60, end, runner, expand_macros)
    assert Labels({("site", site), ("line", line), ("severity", "warning"),
                   ("cause", "equipment")}) in opened
    closed = alerting_at(rule, 60, end + 15 * MINUTE_NS, runner, expand_macros)
    assert not [f for f in map(dict, closed) if (f["site"], f["line"]) == (site, line)], closed
