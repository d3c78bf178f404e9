"""A stand-in for Grafana's HTTP API on loopback, answering as Grafana's documentation says.

Grafana cannot be installed from the registries this project reaches, so ``grafana push`` is
tested against this real HTTP server (stdlib ``http.server`` in a thread) instead: it keeps the
state a Grafana keeps (folders, data sources, dashboards with versions, alert rules and their
groups' intervals) and answers each route with the status codes and bodies of the docs page
cited above its section (quoted names are that page's sections), including the 401, 404, 409
and 412 answers that make idempotency something a test can get wrong. Every exchange is
logged (method, path, status) so tests can check which calls were made, e.g. that a second
push writes nothing.

Only the routes ``grafana push`` uses are served; any other path answers 404 like Grafana's
router, so a call the stub does not know fails loudly instead of passing.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from urllib.parse import unquote
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

#: ProvisionedAlertRule's required fields (alerting provisioning docs, "Models"); orgID is
#: taken from the token's organisation by Grafana, as it is here
RULE_REQUIRED = ("title", "condition", "data", "folderUID", "ruleGroup", "noDataState",
                 "execErrState", "for")
#: the interval Grafana gives a group created by its first rule (default_rule_evaluation_interval)
DEFAULT_GROUP_INTERVAL_S = 60

Json = dict[str, Any]
Reply = tuple[int, Any]


class Rejection(Exception):
    """An error answer: ``status`` with Grafana's JSON body for it."""

    def __init__(self, status: int, body: Json) -> None:
        super().__init__(status, body)
        self.status, self.body = status, body


@dataclass
class GrafanaState:
    """What a Grafana would hold for one organisation (``orgId`` 1), by uid."""

    folders: dict[str, Json] = field(default_factory=dict)
    datasources: dict[str, Json] = field(default_factory=dict)
    #: uid → {"dashboard": model as stored (with id, uid, version), "folderUid": …}
    dashboards: dict[str, Json] = field(default_factory=dict)
    rules: dict[str, Json] = field(default_factory=dict)
    #: (folder uid, group title) → evaluation interval, seconds
    group_intervals: dict[tuple[str, str], int] = field(default_factory=dict)
    #: (method, path, status) of every request, in order
    exchanges: list[tuple[str, str, int]] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def writes(self) -> list[tuple[str, str, int]]:
        """The exchanges that asked to change something (POST, PUT, DELETE)."""
        return [exchange for exchange in self.exchanges if exchange[0] != "GET"]


class GrafanaStub:
    """The server: ``url`` (no trailing slash), ``token`` (the only accepted Bearer token),
    ``state`` (read or pre-load it in tests) and ``close()``."""

    def __init__(self, token: str = "glsa_stub_token") -> None:
        self.token = token
        self.state = GrafanaState()
        self.lock = threading.Lock()
        self.routes = self._routes()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    # --- pre-loading state, as if a plant had made it by hand --------------------------------

    def add_folder(self, uid: str, title: str) -> Json:
        with self.lock:
            return self._store_folder(uid, title)

    def add_datasource(self, definition: Json) -> Json:
        with self.lock:
            return self._store_datasource(dict(definition), version=1)

    def add_dashboard(self, model: Json, folder_uid: str) -> Json:
        with self.lock:
            return self._store_dashboard(copy.deepcopy(model), folder_uid)

    # --- dispatch ------------------------------------------------------------------------------

    def answer(self, method: str, path: str, authorization: str | None, body: Any) -> Reply:
        """Status and JSON body for one request (called by the handler thread)."""
        # Every page above lists "401 – Unauthorized": a missing or wrong token is refused
        # before routing (https://grafana.com/docs/grafana/latest/developers/http_api/auth/).
        if authorization != f"Bearer {self.token}":
            return 401, {"message": "Unauthorized"}
        for route_method, pattern, handle in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                with self.lock:
                    try:
                        return handle(body, *map(unquote, match.groups()))
                    except Rejection as rejection:
                        return rejection.status, rejection.body
        return 404, {"message": "Not found"}

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Reply]]]:
        table = [
            ("GET", r"/api/folders/([^/]+)", self.get_folder),
            ("POST", r"/api/folders", self.create_folder),
            ("PUT", r"/api/folders/([^/]+)", self.update_folder),
            ("GET", r"/api/datasources/uid/([^/]+)", self.get_datasource),
            ("POST", r"/api/datasources", self.create_datasource),
            ("PUT", r"/api/datasources/uid/([^/]+)", self.update_datasource),
            ("GET", r"/api/dashboards/uid/([^/]+)", self.get_dashboard),
            ("POST", r"/api/dashboards/db", self.save_dashboard),
            ("GET", r"/api/v1/provisioning/alert-rules/([^/]+)", self.get_rule),
            ("POST", r"/api/v1/provisioning/alert-rules", self.create_rule),
            ("PUT", r"/api/v1/provisioning/alert-rules/([^/]+)", self.update_rule),
            ("GET", r"/api/v1/provisioning/folder/([^/]+)/rule-groups/([^/]+)", self.get_group),
            ("PUT", r"/api/v1/provisioning/folder/([^/]+)/rule-groups/([^/]+)", self.put_group),
        ]
        return [(method, re.compile(pattern), handle) for method, pattern, handle in table]

    # --- folders: https://grafana.com/docs/grafana/latest/developers/http_api/folder/

    def _folder(self, uid: str) -> Json:
        if uid not in self.state.folders:  # "404 – Folder not found"
            raise Rejection(404, {"message": "folder not found", "status": "not-found"})
        return self.state.folders[uid]

    def _store_folder(self, uid: str, title: str) -> Json:
        folder = {"id": self.state.new_id(), "uid": uid, "title": title,
                  "url": f"/dashboards/f/{uid}/", "version": 1}
        self.state.folders[uid] = folder
        return copy.deepcopy(folder)

    def get_folder(self, _body: Any, uid: str) -> Reply:
        # "Get folder by uid": 200 with the folder, 404 – Folder not found
        return 200, copy.deepcopy(self._folder(uid))

    def create_folder(self, body: Json) -> Reply:
        # "Create folder": 200 with the folder; "409 - Folder already exists" (by uid, or a
        # folder with the same title at the same level)
        if not body.get("title"):
            raise Rejection(400, {"message": "folder title cannot be empty"})
        uid = body.get("uid") or f"f{self.state.next_id}"
        if uid in self.state.folders:
            raise Rejection(409, {"message": "a folder with the same uid already exists"})
        if any(f["title"] == body["title"] for f in self.state.folders.values()):
            raise Rejection(409, {"message": "a folder with the same name already exists"})
        return 200, self._store_folder(uid, body["title"])

    def update_folder(self, body: Json, uid: str) -> Reply:
        # "Update folder": 404 – Folder not found; 412 – Precondition failed with
        # status=version-mismatch unless the current version is given or overwrite=true
        folder = self._folder(uid)
        if not body.get("overwrite") and body.get("version") != folder["version"]:
            raise Rejection(412, {"message": "The folder has been changed by someone else",
                                  "status": "version-mismatch"})
        folder.update(title=body.get("title", folder["title"]), version=folder["version"] + 1)
        return 200, copy.deepcopy(folder)

    # --- data sources: https://grafana.com/docs/grafana/latest/developers/http_api/data_source/

    def _datasource(self, uid: str) -> Json:
        if uid not in self.state.datasources:
            raise Rejection(404, {"message": "Data source not found"})
        return self.state.datasources[uid]

    def _store_datasource(self, body: Json, version: int, id_: int | None = None) -> Json:
        """Stored as Grafana keeps it: secrets are write-only, listed in ``secureJsonFields``."""
        secrets = body.pop("secureJsonData", None) or {}
        stored = {"id": id_ or self.state.new_id(), "orgId": 1, "access": "proxy",
                  "basicAuth": False, "isDefault": False, "jsonData": {}, "readOnly": False,
                  **body, "secureJsonFields": {key: True for key in secrets},
                  "version": version}
        stored.setdefault("uid", f"ds{stored['id']}")
        self.state.datasources[stored["uid"]] = stored
        return copy.deepcopy(stored)

    def _name_taken(self, name: str, by_other_than: str | None) -> None:
        # Grafana's OpenAPI spec gives POST/PUT data source a 409 conflict answer (the
        # generated clients call it addDataSourceConflict); the body names the conflict.
        if any(ds["name"] == name and ds["uid"] != by_other_than
               for ds in self.state.datasources.values()):
            raise Rejection(409, {"message": "data source with the same name already exists"})

    def get_datasource(self, _body: Any, uid: str) -> Reply:
        # "Get a single data source by uid"
        return 200, copy.deepcopy(self._datasource(uid))

    def create_datasource(self, body: Json) -> Reply:
        # "Create a data source": 200 {"datasource", "id", "message": "Datasource added",
        # "name"}; 409 when the name or the uid is taken
        self._name_taken(body["name"], by_other_than=None)
        if body.get("uid") in self.state.datasources:
            raise Rejection(409, {"message": "data source with the same uid already exists"})
        stored = self._store_datasource(dict(body), version=1)
        return 200, {"datasource": stored, "id": stored["id"], "message": "Datasource added",
                     "name": stored["name"]}

    def update_datasource(self, body: Json, uid: str) -> Reply:
        # "Update an existing data source": PUT by uid; the body's uid may rename the uid
        # (the docs' example sets "uid": "updated UID"); 200 "Datasource updated"
        current = self._datasource(uid)
        self._name_taken(body["name"], by_other_than=uid)
        del self.state.datasources[uid]
        stored = self._store_datasource({"uid": uid, **body}, version=current["version"] + 1,
                                        id_=current["id"])
        return 200, {"datasource": stored, "id": stored["id"],
                     "message": "Datasource updated", "name": stored["name"]}

    # --- dashboards: https://grafana.com/docs/grafana/latest/developers/http_api/dashboard/

    def _store_dashboard(self, model: Json, folder_uid: str) -> Json:
        uid = model.get("uid") or f"d{self.state.next_id}"
        previous = self.state.dashboards.get(uid)
        model.update(uid=uid, id=previous["dashboard"]["id"] if previous else self.state.new_id(),
                     version=previous["dashboard"]["version"] + 1 if previous else 1)
        self.state.dashboards[uid] = {"dashboard": model, "folderUid": folder_uid}
        return {"id": model["id"], "uid": uid, "url": f"/d/{uid}/", "status": "success",
                "version": model["version"], "slug": uid}

    def get_dashboard(self, _body: Any, uid: str) -> Reply:
        # "Get dashboard by uid": 200 {"dashboard", "meta": {"folderUid", …}}; 404 Not found
        if uid not in self.state.dashboards:
            raise Rejection(404, {"message": "Dashboard not found"})
        stored = self.state.dashboards[uid]
        return 200, {"dashboard": copy.deepcopy(stored["dashboard"]),
                     "meta": {"folderUid": stored["folderUid"], "url": f"/d/{uid}/",
                              "version": stored["dashboard"]["version"]}}

    def save_dashboard(self, body: Json) -> Reply:
        # "Create / Update dashboard": 200 {id, uid, url, status, version, slug}; 400 for
        # invalid fields; 412 Precondition failed when overwrite is false and the dashboard
        # "has been changed by someone else" (status=version-mismatch) or another dashboard of
        # the same name is in the folder (status=name-exists)
        model, folder_uid = copy.deepcopy(body.get("dashboard")), body.get("folderUid", "")
        if not isinstance(model, dict) or not model.get("title"):
            raise Rejection(400, {"message": "Dashboard title cannot be empty"})
        if folder_uid and folder_uid not in self.state.folders:
            raise Rejection(400, {"message": "folder not found"})
        if not body.get("overwrite"):
            stored = self.state.dashboards.get(model.get("uid") or "")
            if stored and model.get("version") != stored["dashboard"]["version"]:
                raise Rejection(412, {"message": "The dashboard has been changed by someone "
                                                 "else", "status": "version-mismatch"})
            if any(other["dashboard"]["title"] == model["title"]
                   and other["folderUid"] == folder_uid and uid != model.get("uid")
                   for uid, other in self.state.dashboards.items()):
                raise Rejection(412, {"message": "A dashboard with the same name in the folder "
                                                 "already exists", "status": "name-exists"})
        return 200, self._store_dashboard(model, folder_uid)

    # --- alert rules:
    # https://grafana.com/docs/grafana/latest/developers/http_api/alerting_provisioning/

    def _rule(self, uid: str) -> Json:
        if uid not in self.state.rules:  # route get alert rule: "404 Not found."
            raise Rejection(404, {"message": "rule not found"})
        return self.state.rules[uid]

    def _validated_rule(self, body: Json) -> Json:
        """400 ValidationError for a missing required field or an unknown folder."""
        missing = [key for key in RULE_REQUIRED if body.get(key) in (None, "", [])]
        if missing:
            raise Rejection(400, {"message": f"invalid alert rule: missing {missing}"})
        if body["folderUID"] not in self.state.folders:
            raise Rejection(400, {"message": "invalid alert rule: folder does not exist"})
        group = (body["folderUID"], body["ruleGroup"])
        self.state.group_intervals.setdefault(group, DEFAULT_GROUP_INTERVAL_S)
        return {**copy.deepcopy(body), "orgID": 1}

    def get_rule(self, _body: Any, uid: str) -> Reply:
        # route get alert rule: 200 ProvisionedAlertRule, 404 Not found
        return 200, copy.deepcopy(self._rule(uid))

    def create_rule(self, body: Json) -> Reply:
        # route post alert rule: 201 Created ProvisionedAlertRule, 400 ValidationError
        rule = self._validated_rule(body)
        rule.setdefault("uid", f"r{self.state.next_id}")
        rule["id"] = self.state.new_id()
        self.state.rules[rule["uid"]] = rule
        return 201, copy.deepcopy(rule)

    def update_rule(self, body: Json, uid: str) -> Reply:
        # route put alert rule: 200 ProvisionedAlertRule, 400 ValidationError
        current = self._rule(uid)
        rule = {**self._validated_rule(body), "uid": uid, "id": current["id"]}
        self.state.rules[uid] = rule
        return 200, copy.deepcopy(rule)

    def _group(self, folder_uid: str, title: str) -> Json:
        if (folder_uid, title) not in self.state.group_intervals:
            raise Rejection(404, {"message": "rule group not found"})
        rules = [copy.deepcopy(rule) for rule in self.state.rules.values()
                 if (rule["folderUID"], rule["ruleGroup"]) == (folder_uid, title)]
        return {"title": title, "folderUid": folder_uid,
                "interval": self.state.group_intervals[(folder_uid, title)], "rules": rules}

    def get_group(self, _body: Any, folder_uid: str, title: str) -> Reply:
        # route get alert rule group: 200 AlertRuleGroup {title, folderUid, interval, rules}
        return 200, self._group(folder_uid, title)

    def put_group(self, body: Json, folder_uid: str, title: str) -> Reply:
        # route put alert rule group: "Update the interval of a rule group", 200
        # AlertRuleGroup, 400 ValidationError (interval in seconds, a multiple of the 10 s
        # base interval); rules sent in the body are saved too (later Grafanas take the body
        # as the whole group)
        interval = body.get("interval")
        if not isinstance(interval, int) or interval <= 0 or interval % 10:
            raise Rejection(400, {"message": f"invalid rule group interval {interval!r}"})
        if folder_uid not in self.state.folders:
            raise Rejection(400, {"message": "folder does not exist"})
        for rule in body.get("rules") or []:
            self.state.rules[rule["uid"]] = self._validated_rule(
                {**rule, "folderUID": folder_uid, "ruleGroup": title})
        self.state.group_intervals[(folder_uid, title)] = interval
        return 200, self._group(folder_uid, title)


def _handler_for(stub: GrafanaStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                status, reply = 400, {"message": "bad request data"}
            else:
                path = self.path.split("?", 1)[0]
                status, reply = stub.answer(self.command, path,
                                            self.headers.get("Authorization"), body)
            with stub.lock:
                stub.state.exchanges.append((self.command, self.path, status))
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args: object) -> None:  # tests read state.exchanges instead
            pass

    return Handler


@pytest.fixture
def grafana_stub() -> Iterator[GrafanaStub]:
    """A fresh, empty stub Grafana for one test."""
    stub = GrafanaStub()
    yield stub
    stub.close()
