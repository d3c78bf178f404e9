"""``carbonline node-red deploy`` against a real Node-RED 4.1 that already runs a plant's flow:
carbonline's tabs are added, then updated in place; the plant's flow is never touched."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from carbonline.nodered.cli import node_red
from carbonline.nodered.deploy import DeployError, deploy, load_flows

from .conftest import FLOWS, mqtt_env, wait_for

PLANT_FLOW = [
    {"id": "plant-tab", "type": "tab", "label": "Packaging line (the plant's own)"},
    {"id": "plant-tick", "type": "inject", "z": "plant-tab", "name": "tick", "props": [],
     "repeat": "", "once": False, "x": 100, "y": 40, "wires": [["plant-count"]]},
    {"id": "plant-start", "type": "inject", "z": "plant-tab", "name": "at start", "props": [],
     "repeat": "", "once": True, "onceDelay": 0.1, "x": 100, "y": 100,
     "wires": [["plant-count"]]},
    {"id": "plant-count", "type": "function", "z": "plant-tab", "name": "count starts",
     "func": "flow.set('starts', (flow.get('starts') || 0) + 1);\nreturn msg;", "outputs": 1,
     "x": 260, "y": 40, "wires": [[]]},
    {"id": "plant-global", "type": "mqtt-broker", "name": "plant broker", "broker": "10.0.0.5",
     "port": "1883"},  # a global config node of the plant's
]


def tabs(flows: list[dict]) -> dict[str, str]:
    return {n["id"]: n["label"] for n in flows if n["type"] == "tab"}


def plant_part(flows: list[dict]) -> list[dict]:
    return sorted((n for n in flows if n["id"].startswith("plant-")), key=lambda n: n["id"])


def starts(red) -> int:
    """How often the plant's flow has started (its inject-once counts into flow context)."""
    context = red.http.get("/context/flow/plant-tab/starts").json()
    return int(context["msg"]) if context.get("format") == "number" else 0


def test_deploy_adds_then_updates_only_carbonlines_tabs(flow_red, mosquitto, monkeypatch):
    files = load_flows(FLOWS)
    monkeypatch.setenv("CARBONLINE_MQTT_USERNAME", "carbonline")
    monkeypatch.setenv("CARBONLINE_MQTT_PASSWORD", "s3cret")
    with flow_red(mqtt_env(mosquitto)) as red:
        red.deploy(PLANT_FLOW)
        wait_for(lambda: starts(red) == 1, "the plant's flow started")
        before = red.flows()

        first = CliRunner().invoke(node_red, ["deploy", "--url", red.url, "--flows", str(FLOWS)])
        assert first.exit_code == 0, first.output
        assert [line.split()[0] for line in first.output.splitlines()] == ["added"] * len(files)
        after = red.flows()
        added = {label: tab for tab, label in tabs(after).items()}
        assert set(added) == {"Packaging line (the plant's own)", *(f.label for f in files)}
        assert plant_part(after) == plant_part(before)
        for flow in files:  # every node of every file, on its own tab
            on_tab = {n["id"] for n in after if n.get("z") == added[flow.label]}
            assert on_tab == flow.node_ids

        # the password is filled from the environment and stored by Node-RED, not in the file
        creds = red.http.get("/credentials/mqtt-broker/carbonline-alerts-broker").json()
        assert creds == {"user": "carbonline", "has_password": True}
        assert "s3cret" not in "".join(p.read_text() for p in FLOWS.glob("*.json"))

        second = deploy(red.http, files, {})
        assert [(a.action, a.label, a.tab_id) for a in second] == [
            ("updated", f.label, added[f.label]) for f in files]
        again = red.flows()
        ids = [n["id"] for n in again]
        assert len(ids) == len(set(ids)) == len(after)
        assert tabs(again) == tabs(after)
        assert plant_part(again) == plant_part(before)
        time.sleep(0.5)  # a restarted plant flow would have counted a second start by now
        assert starts(red) == 1, "carbonline's deploys restarted the plant's flow"


def test_a_changed_flow_file_replaces_its_tab_in_place(flow_red, mosquitto, tmp_path):
    (grid,) = [f for f in load_flows(FLOWS) if f.path.name == "grid-carbon-intensity.json"]
    with flow_red(mqtt_env(mosquitto)) as red:
        red.deploy(PLANT_FLOW)
        (added,) = deploy(red.http, [grid], {})
        nodes = json.loads(grid.path.read_text())
        for node in nodes:
            if node["id"] == "carbonline-grid-poll":
                node["repeat"] = "900"
        (tmp_path / grid.path.name).write_text(json.dumps(nodes))
        (updated,) = deploy(red.http, load_flows(tmp_path), {})
        assert (updated.action, updated.tab_id) == ("updated", added.tab_id)
        (poll,) = [n for n in red.flows() if n["id"] == "carbonline-grid-poll"]
        assert poll["repeat"] == "900" and poll["z"] == added.tab_id


def test_a_node_red_without_the_flows_packages_is_refused_untouched(nodered):
    """Node-RED would stop every flow, the plant's too, for one unknown node type."""
    before = nodered.flows()
    with pytest.raises(DeployError, match="OpcUa-Client.*e-mail|e-mail.*OpcUa-Client"):
        deploy(nodered.http, load_flows(FLOWS), {})
    assert nodered.flows() == before


def test_flow_files_hold_one_tab_of_their_own_and_no_literal_secret(tmp_path):
    bad = [{"id": "t", "type": "tab"}, {"id": "t-b", "type": "mqtt-broker", "z": "t",
                                         "credentials": {"password": "hunter2"}}]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    (flow,) = load_flows(tmp_path)
    with pytest.raises(DeployError, match="environment reference"):
        flow.body({})
    (tmp_path / "bad.json").write_text(json.dumps(bad + [{"id": "t2", "type": "tab"}]))
    with pytest.raises(DeployError, match="expected one tab, found 2"):
        load_flows(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps([bad[0], {**bad[1], "z": "elsewhere"}]))
    with pytest.raises(DeployError, match="not on the tab"):
        load_flows(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps([bad[0], {**bad[1], "id": "b"}]))
    with pytest.raises(DeployError, match="must start with 't'-"):
        load_flows(tmp_path)


def test_a_tab_the_plant_added_its_own_nodes_to_is_refused_untouched(flow_red, mosquitto):
    """Replacing it would delete the plant's node: the deploy says so and changes nothing."""
    (alerts,) = [f for f in load_flows(FLOWS) if f.path.name == "alerts-to-operators.json"]
    with flow_red(mqtt_env(mosquitto)) as red:
        (added,) = deploy(red.http, [alerts], {})
        flows = red.flows()
        flows.append({"id": "0a1b2c3d4e5f6789", "type": "debug", "z": added.tab_id,
                      "name": "shift lead's debug", "x": 900, "y": 300, "wires": []})
        red.deploy(flows)
        before = red.flows()
        with pytest.raises(DeployError, match="0a1b2c3d4e5f6789"):
            deploy(red.http, [alerts], {})
        assert red.flows() == before
