"""A real InfluxDB 1.x (Debian ``influxdb``) on free loopback ports, one for the whole session.

Plants run InfluxDB 1.x, and its answers (sums, ``integral``, subscriptions, continuous queries)
are what carbonline's output is checked against, so tests use the real server, not a mock. The
Debian package does not start it; the config below follows the stack notes: no phoning home,
data in a temp dir, the RPC port moved off 8088 (so parallel runs and a plant's own InfluxDB don't
clash), subscriptions on, continuous queries every second, no ``_internal`` database, quiet logs.
"""

from __future__ import annotations

import subprocess
import uuid
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from carbonline.influxql import WRITE_VERBS

from ._common import debian_binary, free_ports, stop, wait_until

CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false

[subscriber]
  enabled = true

[continuous_queries]
  run-interval = "1s"
  log-enabled = false

[monitor]
  store-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"""



class InfluxDB:
    """The running server's URL, with the few HTTP calls tests need (v1 API, via httpx)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60)

    def query(self, q: str, db: str | None = None) -> dict:
        """Run InfluxQL and return the JSON body; an error in any statement raises, so a typo
        in a test's query fails the test instead of comparing against an empty result."""
        params = {"q": q, **({"db": db} if db else {})}
        verb = q.lstrip().split(None, 1)[0].upper()
        post = verb in WRITE_VERBS or " INTO " in q.upper()
        response = self.http.request("POST" if post else "GET", "/query", params=params)
        if response.status_code != 200:
            raise RuntimeError(f"{q!r} failed ({response.status_code}): {response.text}")
        body = response.json()
        errors = [r["error"] for r in body.get("results", []) if "error" in r]
        if errors:
            raise RuntimeError(f"{q!r} failed: {'; '.join(errors)}")
        return body

    def write(self, db: str, lines: str | bytes, precision: str = "ns") -> None:
        """POST line protocol to /write; anything but 204 raises with the server's reason."""
        response = self.http.post("/write", params={"db": db, "precision": precision},
                                  content=lines)
        if response.status_code != 204:
            raise RuntimeError(f"write to {db!r} failed ({response.status_code}): "
                               f"{response.text}")

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')


@contextmanager
def influxd_on(root: Path, port: int | None = None) -> Iterator[InfluxDB]:
    """An InfluxDB 1.6 with its data under ``root`` on ``port`` (a free one when not given);
    started again on the same root and port it keeps its data, as a restarted server does."""
    influxd = debian_binary("influxdb", "influxd", "CARBONLINE_INFLUXD")
    http_port, rpc_port = (port, free_ports(1)[0]) if port else free_ports(2)
    config = root / "influxdb.conf"
    config.write_text(CONFIG.format(root=root, http_port=http_port, rpc_port=rpc_port))
    log = root / "influxd.log"
    with log.open("ab") as out:
        process = subprocess.Popen([str(influxd), "-config", str(config)], stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = InfluxDB(f"http://127.0.0.1:{http_port}")
    try:
        wait_until(lambda: server.http.get("/ping").status_code == 204, process, log,
                   f"influxd ({influxd})")
        yield server
    finally:
        server.http.close()
        stop(process)


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    """The session's InfluxDB server (started once: it is shared, tests use own databases)."""
    with influxd_on(tmp_path_factory.mktemp("influxdb")) as server:
        yield server


@pytest.fixture
def influx_db(influxdb: InfluxDB) -> Iterator[str]:
    """The name of a fresh database for one test, dropped afterwards: tests don't see each
    other's points even though they share the server."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    influxdb.create_database(name)
    yield name
    influxdb.query(f'DROP DATABASE "{name}"')
