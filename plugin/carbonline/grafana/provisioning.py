"""Grafana provisioning files: carbonline's data source, dashboards provider and alerting, as
YAML for ``/etc/grafana/provisioning/`` (committed under ``grafana_dashboards/provisioning/``).

Why files: a plant that already runs Grafana mounts one folder and restarts it — no clicks, no
API token — and the result is the same as ``carbonline grafana push``, because both use the
definitions here and in :mod:`.alerting`.

- ``datasources/carbonline-influxdb1.yaml``: InfluxQL on InfluxDB 1.x (user and password).
  ``datasources/carbonline-influxdb2.yaml.example``: InfluxQL on 2.x through a DBRP mapping
  (or 3.x's v1 query API), with a token. Both define the uid :data:`DATASOURCE_UID`, which every
  panel and alert rule uses, so only one of them may be active: Grafana reads ``.yaml``,
  ``.yml`` and ``.json`` files only, and a 2.x plant swaps the two names.
- ``dashboards/carbonline.yaml``: a file provider for the dashboard JSON in :data:`DASHBOARDS_PATH`.
- ``alerting/carbonline-rules.yaml``, ``alerting/contact-points.yaml``, ``alerting/policies.yaml``.
  A policies file replaces the organisation's whole notification policy tree: a Grafana that
  routes other alerts should take the routes by hand (or with ``grafana push``) instead.

Values the plant supplies are ``"${NAME}"`` references (:data:`ENVIRONMENT`), which Grafana
replaces from its environment when it reads the files; they are always quoted in the YAML.

Grafana documentation: https://grafana.com/docs/grafana/latest/administration/provisioning/
(data sources, dashboard providers, environment variables),
https://grafana.com/docs/grafana/latest/datasources/influxdb/configure/ (InfluxDB: ``dbName``,
the ``Authorization: Token`` header for 2.x InfluxQL) and
https://grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/file-provisioning/
"""

from __future__ import annotations

from typing import Any

import yaml

from . import alerting
from .datasource import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID

#: The environment variables the files reference → what the plant sets (an example value).
ENVIRONMENT = {
    "INFLUX_URL": "InfluxDB's HTTP URL, e.g. http://influxdb:8086",
    "INFLUX_DB": "the database carbonline writes to (on 2.x: the DBRP-mapped database), "
                 "e.g. plant",
    "INFLUX_USER": "1.x: a user with read access (empty when auth is off)",
    "INFLUX_PASSWORD": "1.x: that user's password",
    "INFLUX_TOKEN": "2.x/3.x: a read token for the bucket",
    "CARBONLINE_MQTT_BROKER_URL": "the broker Node-RED listens on, e.g. tcp://mosquitto:1883",
    "CARBONLINE_ALERT_WEBHOOK_URL": "where equipment alerts are POSTed (a CMMS, a chat)",
    "CARBONLINE_ALERT_EMAIL": "addresses for warning/critical alerts, ';'-separated "
                              "(needs Grafana's [smtp])",
}
#: Where the dashboard JSON files are mounted inside the Grafana container or host.
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/carbonline"
DATASOURCE_NAME = "carbonline InfluxDB"
ORG_ID = alerting.ORG_ID


def datasource(version: int = 1) -> dict[str, Any]:
    """carbonline's data source as the provisioning file defines it (and as Grafana's
    ``POST /api/datasources`` takes it, once the ``${NAME}`` references are expanded):
    InfluxQL, ``version`` 1 (user/password) or 2 (token header, DBRP). ``timeInterval`` is
    1 minute, the finest window carbonline writes."""
    if version not in (1, 2):
        raise ValueError(f"InfluxDB major version 1 or 2, not {version!r}")
    json_data: dict[str, Any] = {"version": "InfluxQL", "dbName": "${INFLUX_DB}",
                                 "httpMode": "POST", "timeInterval": "1m"}
    source: dict[str, Any] = {"name": DATASOURCE_NAME, "type": "influxdb",
                              "uid": DATASOURCE_UID, "orgId": ORG_ID, "access": "proxy",
                              "url": "${INFLUX_URL}"}
    if version == 1:
        source["user"] = "${INFLUX_USER}"
        secure = {"password": "${INFLUX_PASSWORD}"}
    else:
        json_data["httpHeaderName1"] = "Authorization"
        secure = {"httpHeaderValue1": "Token ${INFLUX_TOKEN}"}
    source.update({"jsonData": json_data, "secureJsonData": secure, "isDefault": False,
                   "editable": False})
    return source


def dashboard_provider() -> dict[str, Any]:
    """The file provider that loads the dashboards into the carbonline folder."""
    return {"name": "carbonline", "orgId": ORG_ID, "folder": FOLDER_TITLE,
            "folderUid": FOLDER_UID, "type": "file", "disableDeletion": False,
            "allowUiUpdates": False, "updateIntervalSeconds": 60,
            "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False}}


def contact_points_file() -> dict[str, Any]:
    """:func:`.alerting.contact_points` grouped by name, each integration a receiver."""
    by_name: dict[str, list[dict]] = {}
    for point in alerting.contact_points():
        by_name.setdefault(point["name"], []).append(
            {key: point[key] for key in ("uid", "type", "settings", "disableResolveMessage")})
    return {"apiVersion": 1, "contactPoints": [
        {"orgId": ORG_ID, "name": name, "receivers": receivers}
        for name, receivers in by_name.items()]}


def build_files() -> dict[str, str]:
    """Every provisioning file's YAML by its path relative to ``provisioning/``."""
    documents = {
        "datasources/carbonline-influxdb1.yaml":
            {"apiVersion": 1, "datasources": [datasource(1)]},
        "datasources/carbonline-influxdb2.yaml.example":
            {"apiVersion": 1, "datasources": [datasource(2)]},
        "dashboards/carbonline.yaml": {"apiVersion": 1, "providers": [dashboard_provider()]},
        "alerting/carbonline-rules.yaml": {"apiVersion": 1, "groups": alerting.rule_groups()},
        "alerting/contact-points.yaml": contact_points_file(),
        "alerting/policies.yaml":
            {"apiVersion": 1, "policies": [{"orgId": ORG_ID, **alerting.policy_tree()}]},
    }
    return {path: _HEADER + dump(document) for path, document in documents.items()}


_HEADER = ("# Generated by `carbonline grafana generate` from carbonline.grafana; do not edit.\n"
           "# \"${NAME}\" values come from Grafana's environment (see the README).\n")


class _Dumper(yaml.SafeDumper):
    """Safe YAML with every string holding a ``${NAME}`` reference double-quoted: unquoted, a
    value such as ``Token ${X}`` is still valid YAML, but a quoted one survives hand edits and
    reads as a string whatever it expands to."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if "${" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(document: Any) -> str:
    """Deterministic YAML: keys in the order built, no wrapping of long queries."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     width=10_000, default_flow_style=False)
