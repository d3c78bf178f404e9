"""The flow files as data: every environment variable a flow reads is documented in
``node_red_flows/README.md``, and every flow is listed there."""

from __future__ import annotations

import json
import re

from carbonline.nodered.deploy import load_flows

from .conftest import FLOWS

PROPERTY = re.compile(r"^\$\{(\w+)\}$")
FUNCTION = re.compile(r"""env\.get\(["'](\w+)["']\)""")


def variables(value: object) -> set[str]:
    """The environment variables a node property (any depth) or function code reads."""
    if isinstance(value, dict):
        return set().union(*map(variables, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(variables, value)) if value else set()
    if isinstance(value, str):
        whole = PROPERTY.match(value)
        return {whole.group(1)} if whole else set(FUNCTION.findall(value))
    return set()


def test_every_variable_a_flow_reads_is_documented():
    readme = (FLOWS / "README.md").read_text()
    flows = load_flows(FLOWS)
    assert len(flows) == 4
    for flow in flows:
        assert f"`{flow.path.name}`" in readme
        read = variables(flow.nodes)
        assert read, flow.path.name
        undocumented = {name for name in read if name not in readme}
        assert not undocumented, f"{flow.path.name} reads {sorted(undocumented)}"


def test_the_node_packages_are_pinned():
    dependencies = json.loads((FLOWS / "package.json").read_text())["dependencies"]
    assert dependencies and all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in dependencies.values())
