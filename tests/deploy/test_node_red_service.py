"""Node-RED in the compose stacks: its image installs exactly the node packages the flows pin,
its environment holds every variable the flows read, and the one-shot `flows` service deploys
the committed flow files with carbonline's own command. (The flows themselves run against real
servers in the Node-RED tests; here only the stack's wiring is checked.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner
from deploy.compose_model import COMPOSE, ComposeFile, references
from servers.nodered import VERSION

from carbonline.cli import main

DOCKERFILE = COMPOSE / "node-red" / "Dockerfile"
#: ``env.get("NAME")`` in a function node, and whether ``||``/``??`` gives it a default.
_ENV_GET = re.compile(r'env\.get\(["\'](\w+)["\']\)(\s*(?:\|\||\?\?))?')


def flow_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if p.name != "package.json")


def variables_needed(nodes: list[dict]) -> set[str]:
    """What a flow reads from Node-RED's environment at run time without a default of its
    own: ``${NAME}`` node properties (Node-RED substitutes them when it loads the flow) and
    ``env.get("NAME")`` in function nodes not followed by ``||``/``??``. Credentials are
    filled by the deploy from its own environment, so they are not counted here."""
    needed = set()
    for node in nodes:
        for key, value in node.items():
            if not isinstance(value, str) or key == "credentials":
                continue
            if node["type"] == "function" and key in ("func", "initialize", "finalize"):
                needed |= {m.group(1) for m in _ENV_GET.finditer(value) if not m.group(2)}
            elif key not in ("info", "name"):
                needed |= {r.name for r in references(value)}
    return needed


def test_needed_variables_are_found() -> None:
    nodes = [{"type": "mqtt-broker", "broker": "${HOST}", "credentials": {"user": "${U}"}},
             {"type": "function", "func": 'a = env.get("A") || 1; b = env.get("B");'
                                          'const t = `${local}`;'}]
    assert variables_needed(nodes) == {"HOST", "B"}


def test_node_red_image_installs_the_pinned_packages() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    (base,) = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert base.startswith(f"nodered/node-red:{VERSION}."), base  # the version tests run
    (copied,) = re.findall(r"^COPY (\S+) (\S+)$", text, re.MULTILINE)
    stack = ComposeFile(COMPOSE / "docker-compose.yml")
    context = (COMPOSE / stack.service("nodered")["build"]["context"]).resolve()
    package = context / copied[0]
    pins = json.loads(package.read_text(encoding="utf-8"))["dependencies"]
    assert pins and all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in pins.values()), pins
    script = re.search(r'node -e "(.*?)"\)', text, re.DOTALL).group(1)
    script = script.replace("\\\n", "\n").replace(copied[1], str(package))
    node = shutil.which("node")
    assert node, "node (Node.js) is needed, as for the Node-RED fixture"
    listed = subprocess.run([node, "-e", script], check=True, capture_output=True,
                            text=True).stdout.split()
    assert sorted(listed) == sorted(f"{n}@{v}" for n, v in pins.items())


def test_node_red_gets_every_variable_the_flows_read(stack: ComposeFile) -> None:
    service = stack.service("flows")
    command = service["command"]
    folder = command[command.index("--flows") + 1]
    (mount,) = [m for m in stack.mounts(service) if m.target == folder]
    flows = flow_files(mount.source)
    assert flows, f"no flow files in {mount.source}"
    environment = stack.service("nodered")["environment"]
    for path in flows:
        missing = variables_needed(json.loads(path.read_text(encoding="utf-8"))) - set(
            environment)
        assert not missing, f"{path.name} reads {sorted(missing)}: not set for Node-RED"


def test_flows_service_runs_the_deploy_command(stack: ComposeFile) -> None:
    service = stack.service("flows")
    command = service["command"]
    url = command[command.index("--url") + 1]
    assert url.split("//")[1].split(":")[0] in stack.interpolated["services"]
    result = CliRunner().invoke(main, [*command[:2], "--help"])
    assert result.exit_code == 0, result.output
    for option in command[2::2]:
        assert option in result.output, f"{option} is not an option of {command[:2]}"
