"""A real Node-RED (npm ``node-red@4.1``) on a free loopback port, headless.

Plants wire things together in Node-RED, so flows are tested in the real thing. It is
installed by npm into ``<repo>/.cache/servers/node-red`` on first use (~16 s; Node.js and npm
from the machine; pinned to 4.1 because 5.x needs Node ≥ 22.9), or taken from
``$CARBONLINE_NODE_RED``. A deploy rewrites the flows file Node-RED was started with, so each
start gets its own copy in a temp dir (stack notes).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ._common import cache_dir, free_ports, stop, wait_until

VERSION = "4.1"
SETTINGS = """module.exports = {{
  flowFile: 'flows.json',
  uiHost: '127.0.0.1',
  logging: {{ console: {{ level: 'warn', metrics: false, audit: false }} }},
  editorTheme: {{ tours: false }},
  telemetry: {{ enabled: false }},{nodes_dir}
}};
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
    _npm_install(target, ["--prefix", "{dir}", f"node-red@{VERSION}"], f"node-red@{VERSION}")
    return binary


def node_packages(package_json: Path) -> Path:
    """A directory whose ``node_modules`` holds the node packages ``package_json`` depends on
    (pinned there), for Node-RED's ``nodesDir``. npm installs them once per distinct
    package.json into the cache (keyed by its hash, through a temp dir renamed into place), so
    the plant's nodes (OPC UA, e-mail…) come from the project's own file, never by hand."""
    text = package_json.read_bytes()
    target = cache_dir() / f"node-red-nodes-{hashlib.sha256(text).hexdigest()[:12]}"
    if (target / "node_modules").is_dir():
        return target
    _npm_install(target, ["--omit=dev"], str(package_json), package_json=text)
    return target


def _npm_install(target: Path, args: list[str], what: str, package_json: bytes | None = None
                 ) -> None:
    """``npm install args`` into a temp dir beside ``target`` (``{dir}`` in ``args`` stands for
    it; ``package_json`` is written there first), renamed into place once complete, so an
    interrupted install never leaves a half-filled cache."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"{what} needs Node.js and npm (Debian: apt-get install nodejs npm)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        if package_json is not None:
            (Path(tmp) / "package.json").write_bytes(package_json)
        result = subprocess.run([npm, "install", *(a.format(dir=tmp) for a in args),
                                 "--no-audit", "--no-fund", "--loglevel=error"],
                                cwd=tmp, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"npm install of {what} failed:\n{result.stderr}")
        shutil.rmtree(target, ignore_errors=True)
        Path(tmp).rename(target)
        Path(tmp).mkdir()  # for TemporaryDirectory's clean-up


class NodeRed:
    """A Node-RED with its user dir, settings, flows file and log under ``root``: ``url``, its
    Admin API for the few calls tests need, and ``stop()``/``start()``, which keep the port
    and the deployed flows (an outage of the plant's Node-RED). ``env`` is added to its
    process environment (flows read URLs and credentials from there); ``nodes_dir`` (from
    :func:`node_packages`) holds extra node packages."""

    def __init__(self, root: Path, env: dict[str, str] | None = None,
                 nodes_dir: Path | None = None) -> None:
        self.root = root
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.url, timeout=30)
        self.process: subprocess.Popen | None = None
        self.env = env or {}
        extra = f"\n  nodesDir: {json.dumps(str(nodes_dir))}," if nodes_dir else ""
        (root / "settings.js").write_text(SETTINGS.format(nodes_dir=extra))
        (root / "flows.json").write_text(json.dumps([]))

    def start(self) -> None:
        binary = node_red_binary()
        log = self.root / "node-red.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(binary), "-s", str(self.root / "settings.js"), "-u", str(self.root),
                 "-p", str(self.port), str(self.root / "flows.json")], stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env})
        wait_until(lambda: self.http.get("/flows").status_code == 200, self.process, log,
                   f"node-red ({binary})", timeout=60)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def deploy(self, flows: list[dict]) -> None:
        """Replace every flow (a test's own Node-RED; a plant's is only ever added to)."""
        response = self.http.post("/flows", json=flows,
                                  headers={"Node-RED-Deployment-Type": "full"})
        if response.status_code != 204:
            raise RuntimeError(f"deploy failed ({response.status_code}): {response.text}")

    def flows(self) -> list[dict]:
        return self.http.get("/flows", headers={"Node-RED-API-Version": "v2"}).json()["flows"]


@contextmanager
def node_red_on(root: Path, env: dict[str, str] | None = None,
                nodes_dir: Path | None = None) -> Iterator[NodeRed]:
    """A Node-RED with no flows under ``root``, stopped on exit. The benchmark runs one too,
    beside carbonline; the flow tests give theirs ``env`` and ``nodes_dir``."""
    server = NodeRed(root, env, nodes_dir)
    try:
        server.start()
        yield server
    finally:
        server.http.close()
        server.stop()


@pytest.fixture(scope="session")
def nodered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeRed]:
    """The session's Node-RED (tests deploy their own flows)."""
    with node_red_on(tmp_path_factory.mktemp("node-red")) as server:
        yield server
