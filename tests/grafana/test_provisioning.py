"""The provisioning files: committed text equals what the code renders, each file has the shape
Grafana's file provisioning reads, ``${NAME}`` values are quoted and documented, and the
notification policy tree routes each rule's alerts where its docstring says.

Formats: https://grafana.com/docs/grafana/latest/administration/provisioning/ (data sources,
dashboard providers) and
https://grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/file-provisioning/
(rules, contact points, policies).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from carbonline.grafana import alerting, provisioning
from carbonline.grafana.datasource import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID

ROOT = Path(__file__).resolve().parents[2] / "grafana_dashboards"
PROVISIONING = ROOT / "provisioning"
#: File names Grafana's provisioning reads (others, such as ``*.example``, it ignores).
READ_BY_GRAFANA = (".yaml", ".yml", ".json")
#: Keys a provisioned data source may have (Grafana's provisioning docs, "Data sources").
DATASOURCE_KEYS = {"name", "type", "access", "orgId", "uid", "url", "user", "database",
                   "basicAuth", "basicAuthUser", "withCredentials", "isDefault", "jsonData",
                   "secureJsonData", "version", "editable"}
PROVIDER_KEYS = {"name", "orgId", "folder", "folderUid", "type", "disableDeletion",
                 "updateIntervalSeconds", "allowUiUpdates", "options"}
#: Data sources every Grafana has without provisioning: its built-in and expression ones.
BUILT_IN_UIDS = {"grafana", "-- Grafana --", "-- Dashboard --", "-- Mixed --", "__expr__"}
REQUIRED_SETTINGS = {"mqtt": {"brokerUrl", "topic"}, "webhook": {"url"}, "email": {"addresses"}}
MATCH_OPS = {"=", "!=", "=~", "!~"}
ENV_REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return provisioning.build_files()


def load(files: dict[str, str], path: str) -> dict:
    document = yaml.safe_load(files[path])
    assert document["apiVersion"] == 1, path
    return document


def test_committed_files_are_what_the_code_renders(files) -> None:
    """Run ``carbonline grafana generate`` after changing the code; a file the code no longer
    renders must go too (Grafana would still read it)."""
    for path, text in files.items():
        committed = PROVISIONING / path
        assert committed.exists(), f"{committed} missing"
        assert committed.read_text() == text, f"{committed} is stale"
    on_disk = {str(p.relative_to(PROVISIONING)) for p in PROVISIONING.rglob("*") if p.is_file()}
    assert on_disk == set(files)


def test_env_references_are_quoted_and_documented(files) -> None:
    used = set()
    for path, text in files.items():
        for line in text.splitlines():
            if line.lstrip().startswith("#") or "${" not in line:
                continue
            value = line.split(": ", 1)[1] if ": " in line else line.lstrip("- ")
            assert value.startswith('"') and value.endswith('"'), f"{path}: {line}"
            used.update(ENV_REFERENCE.findall(line))
            assert "$" not in ENV_REFERENCE.sub("", line), f"{path}: a bare $ in {line}"
    assert used == set(provisioning.ENVIRONMENT)


def test_one_active_datasource_file_defines_the_uid_both_versions_share(files) -> None:
    sources = {path: load(files, path)["datasources"] for path in files
               if path.startswith("datasources/")}
    active = [path for path in sources if path.endswith(READ_BY_GRAFANA)]
    assert active == ["datasources/carbonline-influxdb1.yaml"]
    for path, (source,) in sources.items():
        assert set(source) <= DATASOURCE_KEYS, path
        assert source["uid"] == DATASOURCE_UID and source["type"] == "influxdb"
        assert source["access"] == "proxy" and source["jsonData"]["version"] == "InfluxQL"
        assert source["jsonData"]["dbName"] and source["url"]
    (v1,) = sources["datasources/carbonline-influxdb1.yaml"]
    (v2,) = sources["datasources/carbonline-influxdb2.yaml.example"]
    assert v1 == provisioning.datasource(1) and v2 == provisioning.datasource(2)
    assert v1["user"] and v1["secureJsonData"]["password"]
    assert v2["jsonData"]["httpHeaderName1"] == "Authorization"
    assert v2["secureJsonData"]["httpHeaderValue1"].startswith("Token ${")
    assert "user" not in v2 and "password" not in v2["secureJsonData"]
    with pytest.raises(ValueError):
        provisioning.datasource(3)


def test_dashboards_provider_loads_into_the_alert_rules_folder(files) -> None:
    (provider,) = load(files, "dashboards/carbonline.yaml")["providers"]
    assert set(provider) <= PROVIDER_KEYS
    assert provider["type"] == "file" and provider["folderUid"] == FOLDER_UID
    assert provider["options"]["path"].startswith("/")
    rule_folders = {g["folder"] for g in load(files, "alerting/carbonline-rules.yaml")["groups"]}
    assert rule_folders == {provider["folder"]} == {FOLDER_TITLE}


def test_rules_file_round_trips_to_the_rule_groups(files) -> None:
    """YAML keeps every value as built: ``OK`` a string, ``0s`` a duration, numbers numbers."""
    assert load(files, "alerting/carbonline-rules.yaml")["groups"] == alerting.rule_groups()


def test_every_datasource_uid_in_use_is_provisioned(files) -> None:
    provisioned = {s["uid"] for path in files if path.startswith("datasources/")
                   for s in load(files, path)["datasources"]}
    used = {q["datasourceUid"] for g in alerting.rule_groups() for r in g["rules"]
            for q in r["data"]}
    for dashboard in ROOT.glob("*.json"):
        used |= set(_datasource_uids(json.loads(dashboard.read_text())))
    assert used - BUILT_IN_UIDS <= provisioned, used
    assert DATASOURCE_UID in used


def _datasource_uids(node) -> list[str]:
    """Every ``datasource.uid`` in a dashboard model (panels, targets, variables, annotations)."""
    if isinstance(node, list):
        return [uid for item in node for uid in _datasource_uids(item)]
    if not isinstance(node, dict):
        return []
    found = []
    source = node.get("datasource")
    if isinstance(source, dict) and "uid" in source:
        found.append(source["uid"])
    return found + [uid for value in node.values() for uid in _datasource_uids(value)]


def test_contact_points_have_what_each_integration_requires(files) -> None:
    points = load(files, "alerting/contact-points.yaml")["contactPoints"]
    uids = []
    for point in points:
        assert point["orgId"] == 1 and point["name"] and point["receivers"]
        for receiver in point["receivers"]:
            uids.append(receiver["uid"])
            assert REQUIRED_SETTINGS[receiver["type"]] <= set(receiver["settings"]), receiver
    assert len(set(uids)) == len(uids)
    (mqtt,) = [r for p in points for r in p["receivers"] if r["type"] == "mqtt"]
    assert mqtt["settings"]["topic"].startswith("carbonline/")
    assert mqtt["settings"]["messageFormat"] == "json"  # Node-RED parses the labels


# --- routing ---------------------------------------------------------------------------------

def route(node: dict, labels: dict[str, str]) -> list[str]:
    """The receivers an alert reaches (Alertmanager's routing, which Grafana uses): children
    in order, a match stops the walk unless it has ``continue``; no matching child → this
    node's receiver."""
    reached: list[str] = []
    for child in node.get("routes", []):
        if all(_matches(m, labels) for m in child.get("object_matchers", [])):
            reached += route({"receiver": node["receiver"], **child}, labels)
            if not child.get("continue", False):
                break
    return reached or [node["receiver"]]


def _matches(matcher: list[str], labels: dict[str, str]) -> bool:
    name, op, value = matcher
    assert op in MATCH_OPS, matcher
    actual = labels.get(name, "")
    if op in ("=", "!="):
        return (actual == value) == (op == "=")
    return bool(re.fullmatch(value, actual)) == (op == "=~")


#: The (severity, cause) pairs carbonline's analyser writes on ``carbon_alert``
#: (carbonline.records.AlertRow: severity "info" for the grid, else "warning").
ANALYSER_ALERTS = [("warning", "equipment"), ("warning", "throughput"), ("warning", "recipe"),
                   ("info", "grid")]


def alert_labels() -> list[dict[str, str]]:
    """The label sets each rule can raise (static labels, plus the tags it groups by)."""
    out = []
    for group in alerting.rule_groups():
        for rule in group["rules"]:
            labels = {"alertname": rule["title"], "site": "bremen", "line": "line2",
                      **rule["labels"]}
            if "severity" in labels:
                out.append(labels)
            else:
                out += [{**labels, "severity": s, "cause": c} for s, c in ANALYSER_ALERTS]
    return out


def test_policies_route_every_carbonline_alert_as_documented(files) -> None:
    (policy,) = load(files, "alerting/policies.yaml")["policies"]
    assert policy["orgId"] == 1
    names = {p["name"] for p in load(files, "alerting/contact-points.yaml")["contactPoints"]}

    def receivers(node: dict) -> set[str]:
        return {node["receiver"]} | {r for child in node.get("routes", [])
                                     for r in receivers(child)}
    assert receivers(policy) <= names
    for labels in alert_labels():
        reached = route(policy, labels)
        assert reached[0] == alerting.NODE_RED, labels  # Node-RED sees every alert first
        assert (alerting.WEBHOOK in reached) == (labels["cause"] == "equipment"), labels
        assert (alerting.EMAIL in reached) == (labels["severity"] != "info"), labels
    other = route(policy, {"alertname": "disk full", "severity": "critical"})
    assert other == [policy["receiver"]]  # the plant's other alerts keep the root
