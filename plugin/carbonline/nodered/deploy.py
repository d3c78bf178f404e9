"""Add or update carbonline's own flows in a plant's Node-RED, never touching the plant's.

A plant's Node-RED already runs the plant's flows, so a full deploy (``POST /flows``, which
replaces every flow) is out of the question. The Node-RED Admin API has per-flow calls
(https://nodered.org/docs/api/admin/methods/): ``GET /flows`` lists every node, ``POST /flow``
adds one flow (tab) and ``PUT /flow/:id`` replaces one; both deploy only that tab, so the
plant's flows keep running untouched.

Each carbonline flow file (``node_red_flows/*.json``) is an importable flow: one ``tab`` and
its nodes and config nodes, every node id starting with the tab's id. ``POST /flow`` gives a
new tab a fresh id but keeps the nodes' own ids, so a tab that is already there is found by its
id or by holding one of the file's node ids, and replaced in place: a second deploy updates,
it never duplicates. A tab that also holds nodes of the plant's is refused, not replaced.

Credentials are never in the files. A node's ``credentials`` there name environment variables
(``{"password": "${CARBONLINE_MQTT_PASSWORD}"}``); the deploy fills them from its own
environment (left out when the variable is unset), and Node-RED stores them encrypted.

Node-RED stops *every* flow when one node's type is not installed, so the deploy first checks
the plant has every type the flows use (``GET /nodes``) and refuses, naming them, when not.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

#: A whole credential value that names an environment variable.
_ENV_REFERENCE = re.compile(r"^\$\{(\w+)\}$")


class DeployError(Exception):
    """The deploy could not be done; the message says why (the server's words included)."""


@dataclass(frozen=True)
class Flow:
    """One carbonline flow file: its tab and the nodes on it (config nodes included)."""

    path: Path
    tab: dict
    nodes: list[dict]

    @property
    def label(self) -> str:
        return str(self.tab.get("label", self.tab["id"]))

    @property
    def node_ids(self) -> set[str]:
        return {n["id"] for n in self.nodes}

    def body(self, env: Mapping[str, str]) -> dict:
        """The ``POST /flow`` / ``PUT /flow/:id`` body: the tab's properties, its nodes and
        its config nodes (nodes without a position), credentials filled from ``env``."""
        nodes = [_with_credentials(n, env) for n in self.nodes]
        body = {k: v for k, v in self.tab.items() if k in ("label", "info", "disabled", "env")}
        body["nodes"] = [n for n in nodes if "x" in n]
        body["configs"] = [n for n in nodes if "x" not in n]
        return body


@dataclass(frozen=True)
class Action:
    """What the deploy did to one flow: ``added`` or ``updated``, and the tab's id."""

    label: str
    action: str
    tab_id: str


def load_flows(folder: Path) -> list[Flow]:
    """Every ``*.json`` flow file in ``folder`` (sorted by name), each checked to hold exactly
    one tab and only nodes on it, so deploying it cannot reach into the plant's flows."""
    files = sorted(p for p in folder.glob("*.json") if p.name != "package.json")
    if not files:
        raise DeployError(f"no flow files (*.json) in {folder}")
    flows = []
    for path in files:
        try:
            nodes = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DeployError(f"{path}: not JSON: {exc}") from None
        if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
            raise DeployError(f"{path}: a flow file is a JSON array of nodes")
        tabs = [n for n in nodes if n.get("type") == "tab"]
        if len(tabs) != 1:
            raise DeployError(f"{path}: expected one tab, found {len(tabs)}")
        (tab,) = tabs
        stray = [n["id"] for n in nodes if n is not tab and n.get("z") != tab["id"]]
        if stray:
            raise DeployError(f"{path}: nodes not on the tab {tab['id']!r}: {stray}")
        unowned = [n["id"] for n in nodes if n is not tab and not _owned(n["id"], tab["id"])]
        if unowned:
            raise DeployError(f"{path}: node ids must start with {tab['id']!r}-: {unowned}")
        flows.append(Flow(path, tab, [n for n in nodes if n is not tab]))
    return flows


def deploy(client: httpx.Client, flows: Sequence[Flow],
           env: Mapping[str, str] | None = None) -> list[Action]:
    """Add each flow that is not in the Node-RED behind ``client`` yet, replace each that is;
    nothing else changes. Refuses, before changing anything, when a node type is missing."""
    env = os.environ if env is None else env
    _check_types(client, flows)
    current = _call(client, "GET", "/flows", headers={"Node-RED-API-Version": "v2"})["flows"]
    actions = []
    for flow in flows:
        tab_id = _existing_tab(current, flow)
        if tab_id is None:
            tab_id = _call(client, "POST", "/flow", json=flow.body(env))["id"]
            actions.append(Action(flow.label, "added", tab_id))
        else:
            _call(client, "PUT", f"/flow/{tab_id}", json={"id": tab_id, **flow.body(env)})
            actions.append(Action(flow.label, "updated", tab_id))
    return actions


def _existing_tab(current: list[dict], flow: Flow) -> str | None:
    """The id of the plant's tab that is this flow: the file's tab id, else the one tab holding
    the file's node ids. Nodes of the flow on several tabs, or a tab that also holds nodes that
    are not the flow's (the plant's own, which a replace would delete), is a conflict to
    resolve by hand, not to overwrite."""
    tabs = {n["id"] for n in current if n.get("type") == "tab"}
    if flow.tab["id"] in tabs:
        found = flow.tab["id"]
    else:
        holding = {n.get("z") for n in current if n["id"] in flow.node_ids}
        if not holding:
            return None
        if len(holding) > 1 or not holding <= tabs:
            raise DeployError(f"{flow.label}: its nodes are already on "
                              f"{sorted(map(str, holding))}; remove the copies in the editor, "
                              "then deploy again")
        found = holding.pop()
    foreign = sorted(n["id"] for n in current
                     if n.get("z") == found and not _owned(n["id"], flow.tab["id"]))
    if foreign:
        raise DeployError(f"{flow.label}: tab {found} also holds nodes that are not "
                          f"carbonline's ({', '.join(foreign)}); move them to another tab, "
                          "then deploy again")
    return found


def _owned(node_id: str, tab_id: str) -> bool:
    """A node of a carbonline flow: its id starts with the flow file's tab id (an older
    version's nodes too, so an update may drop nodes)."""
    return node_id.startswith(f"{tab_id}-")


def _check_types(client: httpx.Client, flows: Sequence[Flow]) -> None:
    installed = {t for node_set in _call(client, "GET", "/nodes",
                                         headers={"Accept": "application/json"})
                 for t in node_set.get("types", [])}
    wanted = {n["type"] for f in flows for n in f.nodes} - {"group", "comment", "junction"}
    missing = sorted(wanted - installed)
    if missing:
        raise DeployError("this Node-RED lacks the node types " + ", ".join(missing) +
                          ": install the packages in node_red_flows/package.json into its user "
                          "dir (npm install) or through the palette, restart it, deploy again")


def _with_credentials(node: dict, env: Mapping[str, str]) -> dict:
    """``node`` with each ``${NAME}`` credential replaced by ``env[NAME]`` (dropped when unset;
    a literal credential in a flow file is refused: secrets live in the environment)."""
    if "credentials" not in node:
        return node
    filled = {}
    for key, value in node["credentials"].items():
        match = _ENV_REFERENCE.match(str(value))
        if match is None:
            raise DeployError(f"node {node['id']}: credential {key!r} must be an "
                              "environment reference such as ${CARBONLINE_MQTT_PASSWORD}")
        if match.group(1) in env:
            filled[key] = env[match.group(1)]
    return {**{k: v for k, v in node.items() if k != "credentials"},
            **({"credentials": filled} if filled else {})}


def _call(client: httpx.Client, method: str, path: str, **kwargs: object) -> object:
    """One Admin API call; an HTTP error raises :class:`DeployError` with Node-RED's reason."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise DeployError(f"{method} {client.base_url}{path}: {exc}") from None
    if response.status_code == 401:
        raise DeployError(f"{method} {path}: 401 unauthorised (give --token)")
    if response.is_error:
        raise DeployError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json() if response.content else None
