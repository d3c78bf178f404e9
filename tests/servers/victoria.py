"""A real VictoriaMetrics (Debian ``victoria-metrics``) on a free loopback port.

Only here to prove that the InfluxDB v2 write path (``influxdb-client``'s ``/api/v2/write``)
reaches a real server and reads back: InfluxDB 1.6, the Debian one, has no v2 API, and no
InfluxDB 2.x/3.x is packaged for this machine. VictoriaMetrics stores a point's fields as
series ``<measurement>_<field>{tags}`` with millisecond timestamps; ``export`` reads them back.
``-search.latencyOffset=0s`` makes new points visible at once (else after ~30 s);
``-retentionPeriod=100y`` keeps the tests' fixed 2026 timestamps (the default, one month,
silently drops older points).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ._common import debian_binary, free_ports, stop, wait_until


@dataclass
class VictoriaMetrics:
    """A running server; ``restart()`` keeps port and data."""

    port: int
    root: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = debian_binary("victoria-metrics", "victoria-metrics",
                               "CARBONLINE_VICTORIA_METRICS")
        log = self.root / "victoria-metrics.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(binary), f"-storageDataPath={self.root / 'data'}",
                 f"-httpListenAddr=127.0.0.1:{self.port}", "-search.latencyOffset=0s",
                 "-retentionPeriod=100y", "-loggerLevel=ERROR"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: httpx.get(f"{self.url}/health").status_code == 200, self.process,
                   log, f"victoria-metrics ({binary})")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def export(self, match: str, series: int = 1, timeout: float = 10.0) -> list[dict]:
        """The series matching the selector, as ``{"metric", "values", "timestamps"}``, once
        ``series`` of them are there: VictoriaMetrics makes a write searchable about a second
        later (its in-memory buffer is flushed every second)."""
        deadline = time.monotonic() + timeout
        while True:
            response = httpx.post(f"{self.url}/api/v1/export", data={"match[]": match},
                                  timeout=30)
            response.raise_for_status()
            found = [json.loads(line) for line in response.text.splitlines() if line.strip()]
            if len(found) >= series or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def start_victoria(root: Path, port: int | None = None) -> VictoriaMetrics:
    server = VictoriaMetrics(port or free_ports(1)[0], root)
    server.start()
    return server


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """The session's VictoriaMetrics (tests tell their points apart by a tag of their own)."""
    server = start_victoria(tmp_path_factory.mktemp("victoria"))
    try:
        yield server
    finally:
        server.stop()
