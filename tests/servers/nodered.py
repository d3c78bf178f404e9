"""A real Node-RED (npm ``node-red@4.1``) on a free loopback port, headless.

Plants wire things together in Node-RED, so flows are tested in the real thing. It is
installed by npm into ``<repo>/.cache/servers/node-red`` on first use (~16 s; Node.js and npm
from the machine; pinned to 4.1 because 5.x needs Node ≥ 22.9), or taken from
``$CARBONLINE_NODE_RED``. A deploy rewrites the flows file Node-RED was started with, so each
start gets its own copy in a temp dir (stack notes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ._common import cache_dir, free_ports, stop, wait_until

VERSION = "4.1"
SETTINGS = """module.exports = {
  flowFile: 'flows.json',
  uiHost: '127.0.0.1',
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  editorTheme: { tours: false },
  telemetry: { enabled: false },
};
"""


def node_red_binary() -> Path:
    """``node-red``: ``$CARBONLINE_NODE_RED``, or the pinned npm package in the cache (installed
    through a temp dir renamed into place, so an interrupted install is never taken as done)."""
    override = os.environ.get("CARBONLINE_NODE_RED")
    if override:
        found = shutil.which(override)
        if not found:
            raise RuntimeError(f"$CARBONLINE_NODE_RED={override!r} is not an executable program")
        return Path(found)
    target = cache_dir() / "node-red"
    binary = target / "node_modules" / ".bin" / "node-red"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("Node-RED needs Node.js and npm (Debian: apt-get install nodejs npm)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".node-red-") as tmp:
        result = subprocess.run([npm, "install", "--prefix", tmp, f"node-red@{VERSION}",
                                 "--no-audit", "--no-fund", "--loglevel=error"],
                                capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"npm install node-red@{VERSION} failed:\n{result.stderr}")
        shutil.rmtree(target, ignore_errors=True)
        Path(tmp).rename(target)
        Path(tmp).mkdir()  # for TemporaryDirectory's clean-up
    return binary


class NodeRed:
    """A running Node-RED: ``url``, and its Admin API for the few calls tests need."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def deploy(self, flows: list[dict]) -> None:
        """Replace every flow (a test's own Node-RED; a plant's is only ever added to)."""
        response = self.http.post("/flows", json=flows,
                                  headers={"Node-RED-Deployment-Type": "full"})
        if response.status_code != 204:
            raise RuntimeError(f"deploy failed ({response.status_code}): {response.text}")

    def flows(self) -> list[dict]:
        return self.http.get("/flows", headers={"Node-RED-API-Version": "v2"}).json()["flows"]


@pytest.fixture(scope="session")
def nodered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeRed]:
    """The session's Node-RED (tests deploy their own flows)."""
    binary = node_red_binary()
    root: Path = tmp_path_factory.mktemp("node-red")
    (root / "settings.js").write_text(SETTINGS)
    (root / "flows.json").write_text(json.dumps([]))
    (port,) = free_ports(1)
    log = root / "node-red.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary), "-s", str(root / "settings.js"), "-u", str(root), "-p", str(port),
             str(root / "flows.json")], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    server = NodeRed(f"http://127.0.0.1:{port}")
    try:
        wait_until(lambda: server.http.get("/flows").status_code == 200, process, log,
                   f"node-red ({binary})", timeout=60)
        yield server
    finally:
        server.http.close()
        stop(process)
