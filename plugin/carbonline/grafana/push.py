"""``carbonline grafana push``: put carbonline's folder, InfluxQL data source, dashboards and alert
rules into a running Grafana through its HTTP API, for a plant that prefers one command to
copying provisioning files.

Idempotent by design, because a plant re-runs it after every carbonline upgrade: each object is
read first by its fixed uid, then created (Grafana answers 404), left alone when Grafana already
holds the same content (nothing is written, so a dashboard gets no new version), or updated.
Each object yields an :class:`Outcome` as it is done, so the report shows how far a push got
when Grafana refuses something half-way.

The HTTP calls go through ``grafana-client`` (the ``grafana`` extra), pinned below 4: 3.11 uses
``requests`` over the ordinary ``urllib3``, while 4.x and 5.x depend on ``urllib3-future``,
which overwrites the ``urllib3`` package of the whole environment (the HTTP library under
influxdb-client, a core dependency) and leaves it broken when uninstalled. grafana-client has
every call push needs (folders, data sources by uid and name, dashboards, alerting provisioning
rules and rule groups); contact points and notification policies are left to the provisioning
files, where a plant edits the addresses first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaUnauthorizedError

from ..config import parse_duration
from .datasource import FOLDER_TITLE, FOLDER_UID

Json = dict[str, Any]

CREATED, UPDATED, UNCHANGED, KEPT = "created", "updated", "unchanged", "kept"
#: provisioning-file keys the data source HTTP API does not take
_FILE_ONLY_DATASOURCE_KEYS = ("version", "editable", "orgId")
_ENV = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Outcome:
    """What push did to one Grafana object: ``action`` is created, updated, unchanged, or kept
    (a dashboard changed in Grafana that ``overwrite=False`` left as it was)."""

    kind: str
    name: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action:<9} {self.kind} {self.name}" + (f": {self.detail}" if self.detail
                                                               else "")


class PushError(Exception):
    """Grafana refused the push, or could not be reached; the message says what to do."""


def connect(url: str, token: str, timeout: float = 15.0) -> GrafanaApi:
    """A client for the Grafana at ``url`` (e.g. ``http://grafana:3000``, a sub-path allowed)
    authenticating with a service account token as ``Authorization: Bearer``."""
    return GrafanaApi.from_url(url.rstrip("/"), credential=token, timeout=timeout)


def push(api: GrafanaApi, *, datasource: Json, dashboards: Mapping[str, Json],
         rule_groups: list[Json], folder_uid: str = FOLDER_UID,
         folder_title: str = FOLDER_TITLE, overwrite: bool = True) -> Iterator[Outcome]:
    """Create or update, in this order (later objects refer to earlier ones): the folder, the
    data source (``datasource`` in the HTTP API's shape, see :func:`api_datasource`), every
    dashboard model of ``dashboards`` (into the folder), and every rule group of
    ``rule_groups`` (in Grafana's file-provisioning shape: ``name``, ``interval``, ``rules``).

    ``overwrite=False`` keeps a dashboard that differs in Grafana (someone edited it there)
    instead of replacing it: Grafana's own precondition check (412) decides, so a dashboard
    created by someone else between the read and the write is kept too."""
    try:
        yield push_folder(api, folder_uid, folder_title)
        yield push_datasource(api, datasource)
        for model in dashboards.values():
            yield push_dashboard(api, model, folder_uid, overwrite)
        for group in rule_groups:
            yield from push_rule_group(api, group, folder_uid)
    except GrafanaUnauthorizedError as error:
        raise PushError("Grafana refused the token (401 Unauthorized): pass a service account "
                        "token with the Editor role (Admin to create the data source)") from error
    except GrafanaException as error:
        raise PushError(f"Grafana refused the push: {error}") from error
    except requests.RequestException as error:
        raise PushError(f"cannot reach Grafana: {error}") from error


def _get(call: Callable[..., Json], *args: str) -> Json | None:
    """``call(*args)``, or None when Grafana answers 404 (the object does not exist yet)."""
    try:
        return call(*args)
    except GrafanaClientError as error:
        if error.status_code == 404:
            return None
        raise


def _created_or_conflict(create: Callable[[], object], reread: Callable[[], Json | None],
                         clash: str) -> Json | None:
    """Run ``create``; None when it created. On 409 (made since it was read, or its name is
    taken) return the object re-read by uid, or raise ``clash`` when the uid is still free:
    another object holds the name, and push does not take over what a plant made."""
    try:
        create()
        return None
    except GrafanaClientError as error:
        if error.status_code != 409:
            raise
        existing = reread()
        if existing is None:
            raise PushError(f"{clash} ({error.message})") from error
        return existing


def push_folder(api: GrafanaApi, uid: str, title: str) -> Outcome:
    """The folder that holds the dashboards and alert rules, by uid."""
    existing = _get(api.folder.get_folder, uid) or _created_or_conflict(
        lambda: api.folder.create_folder(title, uid=uid), lambda: _get(api.folder.get_folder, uid),
        f"Grafana has another folder titled {title!r}: rename it, or push with --folder "
        "and another title")
    if existing is None:
        return Outcome("folder", uid, CREATED, title)
    if existing["title"] == title:
        return Outcome("folder", uid, UNCHANGED, title)
    api.folder.update_folder(uid, title=title, overwrite=True)
    return Outcome("folder", uid, UPDATED, f"title {existing['title']!r} -> {title!r}")


def _same_datasource(stored: Json, wanted: Json) -> bool:
    """Whether Grafana's copy already has every field push sets. Secrets are write-only in the
    API (only ``secureJsonFields`` names them), so a changed password alone goes unseen."""
    secrets_set = {key for key, is_set in stored.get("secureJsonFields", {}).items() if is_set}
    return (all(stored.get(key) == value for key, value in wanted.items()
                if key != "secureJsonData")
            and set(wanted.get("secureJsonData") or {}) <= secrets_set)


def push_datasource(api: GrafanaApi, definition: Json) -> Outcome:
    """The InfluxQL data source every panel and rule queries, by its fixed uid."""
    uid, name = definition["uid"], definition["name"]
    existing = _get(api.datasource.get_datasource_by_uid, uid) or _created_or_conflict(
        lambda: api.datasource.create_datasource(definition),
        lambda: _get(api.datasource.get_datasource_by_uid, uid),
        f"Grafana has another data source named {name!r}: rename or delete it")
    if existing is None:
        return Outcome("data source", uid, CREATED, f"{name} -> {definition.get('url')}")
    if _same_datasource(existing, definition):
        return Outcome("data source", uid, UNCHANGED, name)
    api.datasource.update_datasource_by_uid(uid, definition)
    return Outcome("data source", uid, UPDATED, f"{name} -> {definition.get('url')}")


def _content(model: Json) -> Json:
    """A dashboard model without what Grafana assigns on save (numeric id, version)."""
    return {key: value for key, value in model.items() if key not in ("id", "version")}


def push_dashboard(api: GrafanaApi, model: Json, folder_uid: str, overwrite: bool) -> Outcome:
    """One dashboard into the folder; written only when its content or folder differs."""
    uid = model["uid"]
    stored = _get(api.dashboard.get_dashboard, uid)
    if (stored is not None and stored["meta"].get("folderUid") == folder_uid
            and _content(stored["dashboard"]) == _content(model)):
        return Outcome("dashboard", uid, UNCHANGED,
                       f"{model['title']} (version {stored['dashboard'].get('version')})")
    # without overwrite no version is sent, so Grafana refuses to replace any stored copy
    payload = {"dashboard": {**_content(model), "id": None}, "folderUid": folder_uid,
               "overwrite": overwrite, "message": "carbonline grafana push"}
    try:
        saved = api.dashboard.update_dashboard(payload)
    except GrafanaClientError as error:
        if error.status_code != 412 or overwrite:
            raise
        status = error.response.get("status") if isinstance(error.response, dict) else ""
        return Outcome("dashboard", uid, KEPT, f"{model['title']}: Grafana's copy differs "
                       f"({status}); push without --no-overwrite to replace it")
    return Outcome("dashboard", uid, CREATED if stored is None else UPDATED,
                   f"{model['title']} (version {saved['version']})")


def api_rule(rule: Json, folder_uid: str, group: str, org_id: int = 1) -> Json:
    """A rule of a provisioning file in the alerting provisioning HTTP API's shape
    (ProvisionedAlertRule): the file names its folder and group around the rule, the API
    inside it, as ``folderUID`` and ``ruleGroup`` (the folder by uid, not title)."""
    return {**rule, "folderUID": folder_uid, "ruleGroup": group, "orgID": org_id}


def push_rule(api: GrafanaApi, rule: Json) -> Outcome:
    """One alert rule by uid."""
    provisioning = api.alertingprovisioning
    stored = _get(provisioning.get_alertrule, rule["uid"])
    if stored is None:
        provisioning.create_alertrule(rule)
        return Outcome("alert rule", rule["uid"], CREATED, rule["title"])
    if all(stored.get(key) == value for key, value in rule.items()):
        return Outcome("alert rule", rule["uid"], UNCHANGED, rule["title"])
    provisioning.update_alertrule(rule["uid"], rule)
    return Outcome("alert rule", rule["uid"], UPDATED, rule["title"])


def push_rule_group(api: GrafanaApi, group: Json, folder_uid: str) -> Iterator[Outcome]:
    """The group's rules, then its evaluation interval (s), which the rule API does not set."""
    title, interval = group["name"], int(parse_duration(group["interval"]))
    rules = [api_rule(rule, folder_uid, title, group.get("orgId", 1)) for rule in group["rules"]]
    for rule in rules:
        yield push_rule(api, rule)
    provisioning = api.alertingprovisioning
    stored = _get(provisioning.get_rule_group, folder_uid, title)
    if stored is not None and stored.get("interval") == interval:
        yield Outcome("rule group", title, UNCHANGED, f"every {interval} s")
        return
    provisioning.update_rule_group_interval(folder_uid, title, {
        "title": title, "folderUid": folder_uid, "interval": interval, "rules": rules})
    yield Outcome("rule group", title, UPDATED, f"every {interval} s")


def _expand(value: Any, environ: Mapping[str, str], missing: set[str]) -> Any:
    """``value`` with ``$VAR``/``${VAR}`` replaced from ``environ`` (as Grafana's provisioning
    does), recursively; names not in ``environ`` are collected in ``missing``."""
    if isinstance(value, str):
        def variable(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name not in environ:
                missing.add(name)
                return match.group(0)
            return environ[name]
        return _ENV.sub(variable, value)
    if isinstance(value, dict):
        return {key: _expand(item, environ, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, environ, missing) for item in value]
    return value


def api_datasource(provisioned: Json, *, url: str | None = None, database: str | None = None,
                   environ: Mapping[str, str] = os.environ) -> Json:
    """The provisioning file's data source as the data source HTTP API takes it: the
    file-only keys dropped, ``url`` and the database (top-level ``database`` and/or
    ``jsonData.dbName``, whichever the definition uses) replaced when given, and ``${ENV}``
    values filled from ``environ``. Raises :class:`PushError` naming any variable not set."""
    definition = {key: value for key, value in provisioned.items()
                  if key not in _FILE_ONLY_DATASOURCE_KEYS}
    if url is not None:
        definition["url"] = url
    if database is not None:
        json_data = dict(definition.get("jsonData") or {})
        if "database" in definition:
            definition["database"] = database
        if "dbName" in json_data or "database" not in definition:
            json_data["dbName"] = database
        definition["jsonData"] = json_data
    missing: set[str] = set()
    expanded = _expand(definition, environ, missing)
    if missing:
        raise PushError("the data source definition needs "
                        + ", ".join(f"${name}" for name in sorted(missing))
                        + ": set it in the environment, empty when InfluxDB needs none "
                        "(--influx-url and --database replace the URL's and the database's)")
    return expanded
