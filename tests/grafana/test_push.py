"""``carbonline grafana push`` against the stub Grafana (tests/servers/grafana_stub.py), which
answers as Grafana's HTTP API docs say, 404/409/412 included: what a first push creates, that a
second one writes nothing, that objects a plant already has are updated or left alone as they
should be, and how refusals are reported. Small hand-made inputs first; the last tests push the
real generated artefacts through the CLI."""

from __future__ import annotations

import copy

import pytest
from click.testing import CliRunner

from carbonline.cli import main
from carbonline.config import parse_duration
from carbonline.grafana.datasource import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID
from carbonline.grafana.push import (CREATED, KEPT, UNCHANGED, UPDATED, PushError, api_datasource,
                                     api_rule, connect, push)
from servers._common import free_ports
from servers.grafana_stub import GrafanaStub

DATASOURCE = {"uid": DATASOURCE_UID, "name": "carbonline InfluxQL", "type": "influxdb",
              "access": "proxy", "url": "http://influxdb:8086",
              "jsonData": {"dbName": "carbonline", "httpMode": "POST"},
              "secureJsonData": {"password": "s3cret"}}


def dashboard(uid: str, title: str, panel_title: str = "kg CO2e per unit") -> dict:
    return {"uid": uid, "title": title, "schemaVersion": 41, "panels": [
        {"id": 1, "type": "timeseries", "title": panel_title,
         "fieldConfig": {"defaults": {"unit": "kg"}, "overrides": []},
         "datasource": {"type": "influxdb", "uid": DATASOURCE_UID}}]}


DASHBOARDS = {"plant.json": dashboard("carbonline-plant", "Plant overview"),
              "line.json": dashboard("carbonline-line", "Line detail")}


def rule(uid: str, title: str, threshold: float) -> dict:
    """A rule as a provisioning file writes it (not the HTTP API's shape)."""
    return {"uid": uid, "title": title, "condition": "C", "for": "5m",
            "noDataState": "KeepLast", "execErrState": "KeepLast",
            "labels": {"severity": "warning"}, "annotations": {"summary": title},
            "data": [{"refId": "A", "datasourceUid": DATASOURCE_UID,
                      "relativeTimeRange": {"from": 600, "to": 0},
                      "model": {"refId": "A", "query": "SELECT 1", "rawQuery": True}},
                     {"refId": "C", "datasourceUid": "__expr__",
                      "model": {"refId": "C", "type": "threshold", "expression": "A",
                                "conditions": [{"evaluator": {"type": "gt",
                                                              "params": [threshold]}}]}}]}


GROUPS = [{"orgId": 1, "name": "carbonline intensity", "folder": FOLDER_TITLE, "interval": "2m",
           "rules": [rule("cl-intensity-high", "Intensity above threshold", 0.8),
                     rule("cl-deviation", "Deviation from baseline", 0.2)]}]


def run(stub: GrafanaStub, dashboards: dict = DASHBOARDS, token: str | None = None,
        **options) -> list:
    api = connect(stub.url, token or stub.token)
    return list(push(api, datasource=DATASOURCE, dashboards=dashboards, rule_groups=GROUPS,
                     **options))


def by_name(outcomes: list) -> dict[tuple[str, str], str]:
    return {(outcome.kind, outcome.name): outcome.action for outcome in outcomes}


def every_object() -> set[tuple[str, str]]:
    """(kind, name) of every object push must report on for the inputs above."""
    return ({("folder", FOLDER_UID), ("data source", DATASOURCE_UID)}
            | {("dashboard", model["uid"]) for model in DASHBOARDS.values()}
            | {("alert rule", r["uid"]) for group in GROUPS for r in group["rules"]}
            | {("rule group", group["name"]) for group in GROUPS})


def test_first_push_creates_everything(grafana_stub: GrafanaStub) -> None:
    actions = by_name(run(grafana_stub))
    assert set(actions) == every_object()
    group = GROUPS[0]
    assert actions.pop(("rule group", group["name"])) == UPDATED  # the 2 m interval was set
    assert set(actions.values()) == {CREATED}

    state = grafana_stub.state
    assert state.folders[FOLDER_UID]["title"] == FOLDER_TITLE
    stored = state.datasources[DATASOURCE_UID]
    assert {key: stored[key] for key in ("name", "type", "url", "jsonData")} == {
        key: DATASOURCE[key] for key in ("name", "type", "url", "jsonData")}
    assert stored["secureJsonFields"] == {"password": True}
    for model in DASHBOARDS.values():
        saved = state.dashboards[model["uid"]]
        assert saved["folderUid"] == FOLDER_UID
        assert saved["dashboard"]["version"] == 1
        assert {k: v for k, v in saved["dashboard"].items() if k not in ("id", "version")} == model
    for source in group["rules"]:
        saved = state.rules[source["uid"]]
        assert (saved["folderUID"], saved["ruleGroup"]) == (FOLDER_UID, group["name"])
        assert saved["data"] == source["data"] and saved["for"] == source["for"]
        assert {key: saved[key] for key in source} == source
    assert state.group_intervals[(FOLDER_UID, group["name"])] == 120


def test_second_push_writes_nothing(grafana_stub: GrafanaStub) -> None:
    run(grafana_stub)
    state = grafana_stub.state
    writes, counts = len(state.writes()), (len(state.folders), len(state.datasources),
                                          len(state.dashboards), len(state.rules))
    outcomes = run(grafana_stub)
    assert set(by_name(outcomes)) == every_object()
    assert {outcome.action for outcome in outcomes} == {UNCHANGED}
    assert len(state.writes()) == writes  # no POST or PUT at all
    assert (len(state.folders), len(state.datasources), len(state.dashboards),
            len(state.rules)) == counts
    assert {saved["dashboard"]["version"] for saved in state.dashboards.values()} == {1}


def test_objects_a_plant_already_has_with_the_same_uid_are_updated(
        grafana_stub: GrafanaStub) -> None:
    grafana_stub.add_folder(FOLDER_UID, "CO2 (old)")
    grafana_stub.add_datasource({**DATASOURCE, "url": "http://old-influx:8086"})
    actions = by_name(run(grafana_stub))
    assert actions[("folder", FOLDER_UID)] == UPDATED
    assert actions[("data source", DATASOURCE_UID)] == UPDATED
    state = grafana_stub.state
    assert [f["title"] for f in state.folders.values()] == [FOLDER_TITLE]
    assert [ds["url"] for ds in state.datasources.values()] == [DATASOURCE["url"]]
    assert state.datasources[DATASOURCE_UID]["version"] == 2
    assert not [e for e in state.exchanges if e[2] == 409]  # read first, so never a conflict


@pytest.mark.parametrize("clash", ["folder", "data source"])
def test_a_name_taken_by_another_uid_is_a_clear_error_and_left_alone(
        grafana_stub: GrafanaStub, clash: str) -> None:
    if clash == "folder":
        grafana_stub.add_folder("plant-made", FOLDER_TITLE)
    else:
        grafana_stub.add_datasource({**DATASOURCE, "uid": "plant-made", "url": "http://x:8086"})
    before = copy.deepcopy((grafana_stub.state.folders, grafana_stub.state.datasources))
    with pytest.raises(PushError, match=f"another {clash}"):
        run(grafana_stub)
    assert [e[:2] for e in grafana_stub.state.exchanges if e[2] == 409] == [
        ("POST", "/api/folders" if clash == "folder" else "/api/datasources")]
    after = (grafana_stub.state.folders, grafana_stub.state.datasources)
    assert {uid: after[i][uid] for i in (0, 1) for uid in before[i]} == {
        uid: before[i][uid] for i in (0, 1) for uid in before[i]}  # the plant's own untouched


def test_a_changed_dashboard_is_updated_with_a_new_version(grafana_stub: GrafanaStub) -> None:
    run(grafana_stub)
    changed = {**DASHBOARDS, "plant.json": dashboard("carbonline-plant", "Plant overview",
                                                     panel_title="kg CO2e per good unit")}
    actions = by_name(run(grafana_stub, dashboards=changed))
    assert actions[("dashboard", "carbonline-plant")] == UPDATED
    assert actions[("dashboard", "carbonline-line")] == UNCHANGED
    saved = grafana_stub.state.dashboards
    assert saved["carbonline-plant"]["dashboard"]["version"] == 2
    assert saved["carbonline-plant"]["dashboard"]["panels"] == changed["plant.json"]["panels"]
    assert saved["carbonline-line"]["dashboard"]["version"] == 1


def test_no_overwrite_keeps_a_dashboard_changed_in_grafana(grafana_stub: GrafanaStub) -> None:
    """Grafana's 412 (version-mismatch) decides; new dashboards are still created."""
    grafana_stub.add_folder(FOLDER_UID, FOLDER_TITLE)
    edited = dashboard("carbonline-plant", "Plant overview", panel_title="edited by the plant")
    grafana_stub.add_dashboard(edited, FOLDER_UID)
    outcomes = run(grafana_stub, overwrite=False)
    actions = by_name(outcomes)
    assert actions[("dashboard", "carbonline-plant")] == KEPT
    assert actions[("dashboard", "carbonline-line")] == CREATED
    assert ("POST", "/api/dashboards/db", 412) in grafana_stub.state.exchanges
    kept = grafana_stub.state.dashboards["carbonline-plant"]["dashboard"]
    assert kept["panels"] == edited["panels"] and kept["version"] == 1
    assert "version-mismatch" in next(o.detail for o in outcomes if o.action == KEPT)
    # and the default replaces it
    assert by_name(run(grafana_stub))[("dashboard", "carbonline-plant")] == UPDATED
    replaced = grafana_stub.state.dashboards["carbonline-plant"]["dashboard"]
    assert replaced["panels"] == DASHBOARDS["plant.json"]["panels"]
    assert replaced["version"] == 2


def test_a_wrong_token_is_refused_before_anything_is_written(grafana_stub: GrafanaStub) -> None:
    with pytest.raises(PushError, match="401"):
        run(grafana_stub, token="not-the-token")
    assert grafana_stub.state.exchanges == [("GET", f"/api/folders/{FOLDER_UID}", 401)]


def test_an_unreachable_grafana_is_a_clear_error() -> None:
    (port,) = free_ports(1)
    with pytest.raises(PushError, match="cannot reach Grafana"):
        list(push(connect(f"http://127.0.0.1:{port}", "token", timeout=2),
                  datasource=DATASOURCE, dashboards=DASHBOARDS, rule_groups=GROUPS))


def test_api_datasource_fills_the_provisioning_definition() -> None:
    provisioned = {"apiVersion": 1, "uid": DATASOURCE_UID, "name": "carbonline InfluxQL",
                   "type": "influxdb", "url": "${INFLUX_URL}", "editable": False, "orgId": 1,
                   "version": 1, "jsonData": {"dbName": "$INFLUX_DB", "httpMode": "POST"},
                   "secureJsonData": {"password": "${INFLUX_PASSWORD}"}}
    provisioned.pop("apiVersion")
    filled = api_datasource(provisioned, url="http://influx:8086", database="plant",
                            environ={"INFLUX_PASSWORD": "pw"})
    assert filled == {"uid": DATASOURCE_UID, "name": "carbonline InfluxQL", "type": "influxdb",
                      "url": "http://influx:8086",
                      "jsonData": {"dbName": "plant", "httpMode": "POST"},
                      "secureJsonData": {"password": "pw"}}
    with pytest.raises(PushError, match=r"\$INFLUX_DB, \$INFLUX_PASSWORD"):
        api_datasource(provisioned, url="http://influx:8086", environ={})


# --- the real artefacts, through the CLI --------------------------------------------------------

#: the data source's ${…} references the options do not cover, by InfluxDB major version
INFLUX_AUTH = {"1": {"INFLUX_USER": "", "INFLUX_PASSWORD": ""}, "2": {"INFLUX_TOKEN": "tok"}}


def test_the_file_rules_converted_are_the_sdks_http_api_rules() -> None:
    """push sends what the provisioning file holds, in the shape the foundation SDK gives the
    HTTP API's ProvisionedAlertRule (folderUID, ruleGroup, orgID)."""
    from carbonline.grafana import alerting

    converted = [api_rule(r, FOLDER_UID, group["name"], group["orgId"])
                 for group in alerting.rule_groups() for r in group["rules"]]
    assert converted == alerting.rules()


@pytest.mark.parametrize("version", ["1", "2"])
def test_cli_pushes_the_generated_artefacts_idempotently(grafana_stub: GrafanaStub,
                                                         version: str) -> None:
    from carbonline.grafana import alerting, dashboards, provisioning

    args = ["grafana", "push", "--url", grafana_stub.url, "--token", grafana_stub.token,
            "--influx-version", version, "--influx-url", "http://influxdb:8086",
            "--database", "plant"]
    first = CliRunner().invoke(main, args, env=INFLUX_AUTH[version])
    assert first.exit_code == 0, first.output
    models, groups = dashboards.build_all(), alerting.rule_groups()
    state = grafana_stub.state
    assert set(state.dashboards) == {model["uid"] for model in models.values()}
    assert set(state.rules) == {r["uid"] for group in groups for r in group["rules"]}
    stored, provisioned = state.datasources[DATASOURCE_UID], provisioning.datasource(int(version))
    assert stored["url"] == "http://influxdb:8086"
    assert stored["jsonData"] == {**provisioned["jsonData"], "dbName": "plant"}
    assert set(stored["secureJsonFields"]) == set(provisioned["secureJsonData"])
    for group in groups:
        assert state.group_intervals[(FOLDER_UID, group["name"])] == parse_duration(
            group["interval"])
    lines = first.output.strip().splitlines()
    assert len(lines) == 2 + len(models) + sum(len(g["rules"]) + 1 for g in groups)

    writes = len(state.writes())
    second = CliRunner().invoke(main, args, env=INFLUX_AUTH[version])
    assert second.exit_code == 0, second.output
    assert all(line.startswith(UNCHANGED) for line in second.output.strip().splitlines())
    assert len(state.writes()) == writes


def test_cli_with_a_bad_token_fails_with_a_clear_message(grafana_stub: GrafanaStub) -> None:
    result = CliRunner().invoke(main, ["grafana", "push", "--url", grafana_stub.url, "--token",
                                       "wrong", "--influx-url", "http://influxdb:8086",
                                       "--database", "carbonline"],
                                env=INFLUX_AUTH["1"])
    assert result.exit_code != 0
    assert "401 Unauthorized" in result.output and "service account token" in result.output
    assert grafana_stub.state.writes() == []
