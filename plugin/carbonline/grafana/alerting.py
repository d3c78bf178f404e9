"""Grafana-managed alert rules on carbonline's series, as file-provisioning rule groups.

Why in Grafana as well as carbonline's own analyser: a plant routes, silences and escalates
alerts where it already does (Grafana's notification policies), and two of these rules watch
what the analyser cannot — the analyser itself going quiet, and a line whose meters stop.

The rules (each evaluated every :data:`EVALUATE_EVERY`; thresholds are module constants):

- **carbonline alert open** — the analyser's own alerts (``carbon_alert``): per site × line ×
  severity × cause, the openings (``state = "firing"``) minus the closings in the last
  :data:`ALERT_LOOKBACK_S` are above 0. Labels come from the point's tags, so routing by
  ``severity`` and ``cause`` follows what the analyser decided.
- **deviation from baseline** — Σ ``co2e_kg`` / Σ (``baseline_co2e_per_unit_kg`` ×
  ``good_units``) over the 1-minute windows of the last :data:`DEVIATION_RANGE_S`, per line:
  more than :data:`DEVIATION_PCT` % above for :data:`DEVIATION_FOR`. Sums, never an average of
  ratios (design brief §3); the baseline is at today's factors, so the grid does not move it.
- **intensity above threshold** — Σ ``co2e_kg`` / Σ ``good_units`` per line × SKU against the
  ``threshold_co2e_per_unit_kg`` the analyser wrote (``[analysis] thresholds``), in percent.
- **grid-factor spike** — per site, the mean ``grid_factor_kg_per_kwh`` of the last 5 minutes
  against the median of the last two hours (the analyser's own reference), more than
  :data:`GRID_SPIKE_PCT` % above.
- **no data from a line** — ``carbonline_health`` ``last_reading_age_s`` above
  :data:`SILENT_AFTER_S`; when carbonline writes no health row at all the rule alerts too
  (``noDataState: Alerting``).

Every query is plain InfluxQL with only ``$timeFilter`` (Grafana fills it from the query's
``relativeTimeRange``; on a subquery it bounds the outer query, which InfluxDB passes inward and
runs faster); template variables have no meaning in alert rules. Subqueries work on InfluxDB
1.x, 2.x (DBRP) and 3.x alike. Expressions use
``datasourceUid: __expr__``. ``noDataState``/``execErrState`` take Grafana's values
(``KeepLast`` since Grafana 10.4 — never ``KeepLastState``).

Grafana documentation:
https://grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/file-provisioning/
(rule group file format; annotations are not environment-interpolated, labels are),
https://grafana.com/docs/grafana/latest/panels-visualizations/query-transform-data/expression-queries/
(reduce, math, threshold) and
https://grafana.com/docs/grafana/latest/alerting/fundamentals/alert-rule-evaluation/nodata-and-error-states/
"""

from __future__ import annotations

import json
from collections.abc import Callable

from grafana_foundation_sdk.builders import alerting, expr
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.alerting import RelativeTimeRange
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from .datasource import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID, InfluxQL

#: Grafana's pseudo data source of server-side expressions.
EXPRESSION_UID = "__expr__"
EXPRESSIONS = DataSourceRef(type_val=EXPRESSION_UID, uid=EXPRESSION_UID)
ORG_ID = 1
#: How often Grafana evaluates both groups (the analyser works on 1-minute windows).
EVALUATE_EVERY = "1m"
#: Label on every rule, so a notification policy can take all of carbonline's alerts.
SOURCE_LABEL = {"source": "carbonline"}

#: s: an alert opened longer ago than this no longer counts as open (a week: a fault that old
#: is known; InfluxQL cannot carry an alert's state forward from before the range).
ALERT_LOOKBACK_S = 7 * 86400
#: %: deviation above the baseline, over DEVIATION_RANGE_S of 1-minute windows, for
#: DEVIATION_FOR. Wider than the analyser's own opening level (10 %): a second opinion that
#: escalates what persists, not a copy of the analyser's detector.
DEVIATION_PCT = 20.0
DEVIATION_RANGE_S = 600
DEVIATION_FOR = "5m"
#: %: intensity as a share of the written threshold above which the rule fires.
THRESHOLD_PCT = 100.0
THRESHOLD_RANGE_S = 600
THRESHOLD_FOR = "5m"
#: %: the last 5 minutes' grid factor above the median of the last two hours (as the
#: analyser's ``grid_spike`` of 0.25).
GRID_SPIKE_PCT = 25.0
GRID_NOW_S = 300
GRID_REFERENCE_S = 7200
GRID_FOR = "5m"
#: s: a line whose newest reading is older than this is silent (5 minutes: meters report
#: every few seconds; a network blip of a minute is not worth a call).
SILENT_AFTER_S = 300.0
SILENT_RANGE_S = 300
SILENT_FOR = "2m"

_TAGS_LINE = '"site", "line"'
_WINDOW_1M = "\"window\" = '1m'"


# --- query and expression builders --------------------------------------------------------

def _influx(ref: str, query: str, seconds: int) -> alerting.Query:
    """An InfluxQL query over the ``seconds`` before evaluation time."""
    return (alerting.Query(ref).datasource_uid(DATASOURCE_UID)
            .relative_time_range(RelativeTimeRange(from_val=seconds, to=0))
            .model(InfluxQL(ref, query)))


def _reduce(ref: str, of: str, reducer: str) -> alerting.Query:
    """One number per series; ``dropNN`` ignores null/NaN points (a window without units)."""
    return alerting.Query(ref).datasource_uid(EXPRESSION_UID).model(
        expr.TypeReduce().ref_id(ref).datasource(EXPRESSIONS).expression(of).reducer(reducer)
        .settings(expr.ExprTypeReduceSettings().mode("dropNN")))


def _math(ref: str, expression: str) -> alerting.Query:
    """Arithmetic on earlier results (``$C / $D``), joined by their labels."""
    return alerting.Query(ref).datasource_uid(EXPRESSION_UID).model(
        expr.TypeMath().ref_id(ref).datasource(EXPRESSIONS).expression(expression))


def _above(ref: str, of: str, limit: float) -> alerting.Query:
    """The condition: 1 where ``of`` is greater than ``limit``, else 0."""
    return alerting.Query(ref).datasource_uid(EXPRESSION_UID).model(
        expr.TypeThreshold().ref_id(ref).datasource(EXPRESSIONS).expression(of).conditions([
            expr.ExprTypeThresholdConditions().evaluator(
                expr.ExprTypeThresholdConditionsEvaluator().type("gt").params([limit]))]))


def _rule(uid: str, title: str, group: str, pending: str) -> alerting.Rule:
    return (alerting.Rule(title).uid(uid).org_id(ORG_ID).folder_uid(FOLDER_UID)
            .rule_group(group).for_val(pending).is_paused(False))


# --- the rules ----------------------------------------------------------------------------

INTENSITY_GROUP = "carbonline-intensity"
HEALTH_GROUP = "carbonline-health"


def alert_open() -> alerting.Rule:
    """carbonline's own alert open on a line (from ``carbon_alert``)."""
    tags = '"site", "line", "severity", "cause"'
    events = ('(SELECT {sign}count("alert_id") AS "opened" FROM "carbon_alert" '
              "WHERE \"state\" = '{state}' GROUP BY " + tags + ")")
    query = (f'SELECT sum("opened") AS "open_alerts" FROM '
             f'{events.format(sign="", state="firing")}, '
             f'{events.format(sign="-1 * ", state="resolved")} '
             f"WHERE $timeFilter GROUP BY {tags}")
    return (_rule("carbonline-alert-open", "carbonline alert open", INTENSITY_GROUP, "0s")
            .queries([_influx("A", query, ALERT_LOOKBACK_S), _reduce("B", "A", "last"),
                      _above("C", "B", 0)])
            .condition("C").no_data_state("OK").exec_err_state("KeepLast")
            .labels(dict(SOURCE_LABEL))
            .annotations({
                "summary": "carbonline alert on {{ $labels.site }} {{ $labels.line }}: "
                           "probable cause {{ $labels.cause }}",
                "description": "carbonline's analyser opened a {{ $labels.severity }} alert "
                               "on {{ $labels.line }}; its message (the machine it blames, "
                               "kg CO2e/unit against the baseline) is in carbon_alert and on "
                               "the Line detail dashboard.",
                "runbook": "equipment: inspect the machine the message names (leaks, stuck "
                           "valves, burners); throughput: check stops and speed; recipe: "
                           "check the SKU/recipe change; grid: nothing to fix on the line, "
                           "consider shifting flexible load."}))


def deviation() -> alerting.Rule:
    """A line's intensity above its baseline by more than DEVIATION_PCT for DEVIATION_FOR."""
    query = ('SELECT 100 * sum("co2e_kg") / sum("expected_kg") - 100 AS "deviation_pct" '
             'FROM (SELECT "co2e_kg", "baseline_co2e_per_unit_kg" * "good_units" AS '
             f'"expected_kg" FROM "carbon_intensity" WHERE {_WINDOW_1M} AND '
             '"baseline_co2e_per_unit_kg" > 0 GROUP BY "site", "line", "sku") '
             f"WHERE $timeFilter GROUP BY {_TAGS_LINE}")
    return (_rule("carbonline-deviation", "Intensity above baseline", INTENSITY_GROUP,
                  DEVIATION_FOR)
            .queries([_influx("A", query, DEVIATION_RANGE_S), _reduce("B", "A", "last"),
                      _above("C", "B", DEVIATION_PCT)])
            .condition("C").no_data_state("OK").exec_err_state("KeepLast")
            .labels({**SOURCE_LABEL, "severity": "warning", "cause": "unknown"})
            .annotations({
                "summary": "{{ $labels.site }} {{ $labels.line }}: kg CO2e/unit "
                           "{{ humanize $values.B.Value }} % above its baseline",
                "description": f"Summed over the last {DEVIATION_RANGE_S // 60} minutes, the "
                               "line emits more per good unit than its energy baselines "
                               "expect at today's grid factor (so not the grid). The "
                               "probable cause (equipment, throughput, recipe) is in "
                               "carbonline's own alert for the line.",
                "runbook": "Open Line detail: the machine whose energy per unit left its "
                           "baseline is the one to inspect; a fall in good units points at "
                           "throughput."}))


def above_threshold() -> alerting.Rule:
    """A line × SKU's intensity above the threshold written with it."""
    query = ('SELECT 100 * sum("co2e_kg") / sum("good_units") / '
             'last("threshold_co2e_per_unit_kg") AS "pct_of_threshold" FROM "carbon_intensity" '
             f'WHERE {_WINDOW_1M} AND "threshold_co2e_per_unit_kg" > 0 AND $timeFilter '
             f'GROUP BY {_TAGS_LINE}, "sku"')
    return (_rule("carbonline-threshold", "Intensity above threshold", INTENSITY_GROUP,
                  THRESHOLD_FOR)
            .queries([_influx("A", query, THRESHOLD_RANGE_S), _reduce("B", "A", "last"),
                      _above("C", "B", THRESHOLD_PCT)])
            .condition("C").no_data_state("OK").exec_err_state("KeepLast")
            .labels({**SOURCE_LABEL, "severity": "critical", "cause": "unknown"})
            .annotations({
                "summary": "{{ $labels.site }} {{ $labels.line }} {{ $labels.sku }}: "
                           "{{ humanize $values.B.Value }} % of its kg CO2e/unit threshold",
                "description": f"Σ co2e_kg / Σ good_units over the last "
                               f"{THRESHOLD_RANGE_S // 60} minutes is above the threshold "
                               "configured for this SKU ([analysis] thresholds). The grid "
                               "counts here: check the grid-factor rule before the line.",
                "runbook": "If the grid factor spiked, the line is not at fault; otherwise "
                           "follow carbonline's alert for the line (probable cause)."}))


def grid_spike() -> alerting.Rule:
    """The grid factor well above its level of the last two hours."""
    factor = ('SELECT {fn}("grid_factor_kg_per_kwh") FROM "carbon_intensity" '
              f'WHERE {_WINDOW_1M} AND $timeFilter GROUP BY "site"')
    return (_rule("carbonline-grid-spike", "Grid factor spike", INTENSITY_GROUP, GRID_FOR)
            .queries([_influx("A", factor.format(fn="mean"), GRID_NOW_S),
                      _influx("B", factor.format(fn="median"), GRID_REFERENCE_S),
                      _reduce("C", "A", "last"), _reduce("D", "B", "last"),
                      _math("E", "$C / $D * 100 - 100"), _above("F", "E", GRID_SPIKE_PCT)])
            .condition("F").no_data_state("OK").exec_err_state("KeepLast")
            .labels({**SOURCE_LABEL, "severity": "info", "cause": "grid"})
            .annotations({
                "summary": "{{ $labels.site }}: grid factor {{ humanize $values.E.Value }} % "
                           "above its last two hours",
                "description": "Every electric line's kg CO2e/unit rises with the grid, not "
                               "with the plant; carbonline's deviation and equipment alerts "
                               "stay quiet because baselines use today's factor.",
                "runbook": "Nothing to repair. Shift flexible load (charging, compressed-air "
                           "storage, chillers) out of the spike if the plant can."}))


def line_silent() -> alerting.Rule:
    """No reading from a line's meters for SILENT_AFTER_S (or no health rows at all)."""
    query = ('SELECT last("last_reading_age_s") FROM "carbonline_health" '
             f"WHERE \"component\" = 'engine' AND $timeFilter GROUP BY {_TAGS_LINE}")
    return (_rule("carbonline-line-silent", "No data from a line", HEALTH_GROUP, SILENT_FOR)
            .queries([_influx("A", query, SILENT_RANGE_S), _reduce("B", "A", "last"),
                      _above("C", "B", SILENT_AFTER_S)])
            .condition("C").no_data_state("Alerting").exec_err_state("Error")
            .labels({**SOURCE_LABEL, "severity": "warning", "cause": "data_quality"})
            .annotations({
                "summary": "{{ $labels.site }} {{ $labels.line }}: no reading for "
                           "{{ humanizeDuration $values.B.Value }}",
                "description": "carbonline has received nothing from this line's meters; its "
                               "windows are not covered, so its intensity is not judged. With "
                               "no labels, carbonline itself wrote no health row: it is down "
                               "or cannot reach InfluxDB.",
                "runbook": "Check the line's network and gateway (MQTT/OPC UA), then "
                           "carbonline's health dashboard (rejected readings, spool depth)."}))


#: Rule group → its rules, in file order.
GROUPS: dict[str, list[Callable[[], alerting.Rule]]] = {
    INTENSITY_GROUP: [alert_open, deviation, above_threshold, grid_spike],
    HEALTH_GROUP: [line_silent],
}

#: The keys of a rule in Grafana's provisioning file, in the order Grafana's export writes them.
FILE_RULE_KEYS = ("uid", "title", "condition", "data", "noDataState", "execErrState", "for",
                  "annotations", "labels", "isPaused")


def rules() -> list[dict]:
    """Every rule as the foundation SDK models it: the HTTP API's provisioned alert rule
    (``POST /api/v1/provisioning/alert-rules``), with ``folderUID``, ``ruleGroup``, ``orgID``."""
    return [_json(build()) for builders in GROUPS.values() for build in builders]


def rule_groups() -> list[dict]:
    """The rule groups in Grafana's file-provisioning shape (``orgId``, ``name``, ``folder``
    (the folder's title), ``interval``, ``rules``), each rule narrowed to the keys the file
    format takes."""
    return [{"orgId": ORG_ID, "name": name, "folder": FOLDER_TITLE, "interval": EVALUATE_EVERY,
             "rules": [{key: rule[key] for key in FILE_RULE_KEYS}
                       for rule in (_json(build()) for build in builders)]}
            for name, builders in GROUPS.items()]


# --- where notifications go ---------------------------------------------------------------
# Contact point settings and policies are environment-interpolated by Grafana's file
# provisioning: "${NAME}" is the plant's value, and no other "$" may appear in them.
# Settings: webhook and email as in the file-provisioning page above; MQTT (Grafana 11+) in
# https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/configure-mqtt/
# (brokerUrl, topic, messageFormat, clientId, qos, retain: grafana/alerting receivers/mqtt).

NODE_RED = "carbonline-node-red"
WEBHOOK = "carbonline-webhook"
EMAIL = "carbonline-email"
#: The MQTT topic Node-RED subscribes to: one topic for every site and line (Grafana cannot
#: template the topic); the JSON payload carries the labels (site, line, severity, cause).
MQTT_TOPIC = "carbonline/grafana/alerts"


def contact_points() -> list[dict]:
    """One integration each, as the HTTP API (``/api/v1/provisioning/contact-points``) and the
    SDK model it: ``{uid, name, type, settings, disableResolveMessage}``."""
    points = [
        alerting.ContactPoint().uid("carbonline-mqtt").name(NODE_RED).type("mqtt").settings({
            "brokerUrl": "${CARBONLINE_MQTT_BROKER_URL}", "topic": MQTT_TOPIC,
            "messageFormat": "json", "clientId": "grafana-carbonline", "qos": 1,
            "retain": False}),
        alerting.ContactPoint().uid("carbonline-webhook").name(WEBHOOK).type("webhook")
        .settings({"url": "${CARBONLINE_ALERT_WEBHOOK_URL}", "httpMethod": "POST"}),
        alerting.ContactPoint().uid("carbonline-email").name(EMAIL).type("email")
        .settings({"addresses": "${CARBONLINE_ALERT_EMAIL}", "singleEmail": True}),
    ]
    return [_json(point.disable_resolve_message(False)) for point in points]


def policy_tree() -> dict:
    """The notification policy tree (the HTTP API's ``/api/v1/provisioning/policies`` route):
    every carbonline alert to Node-RED over MQTT and on; an ``equipment`` cause also to the
    webhook (a maintenance ticket); ``warning`` and ``critical`` also by email; ``info`` (the
    grid) to Node-RED only. Everything else keeps the root: email."""
    ours = ["source", "=", SOURCE_LABEL["source"]]
    return _json(
        alerting.NotificationPolicy().receiver(EMAIL)
        .group_by(["grafana_folder", "alertname", "site", "line"])
        .group_wait("30s").group_interval("5m").repeat_interval("4h")
        .routes([
            alerting.NotificationPolicy().receiver(NODE_RED).object_matchers([ours])
            .group_by(["alertname", "site", "line", "cause"]).group_wait("10s")
            .continue_val(True),
            alerting.NotificationPolicy().receiver(WEBHOOK)
            .object_matchers([ours, ["cause", "=", "equipment"]]).continue_val(True),
            alerting.NotificationPolicy().receiver(EMAIL)
            .object_matchers([ours, ["severity", "=~", "warning|critical"]])
            .continue_val(False),
        ]))


def _json(builder) -> dict:
    """A foundation-SDK builder's object as plain JSON data."""
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder))
