"""A ``carbonline run`` (:class:`~carbonline.live.LiveRun`) against the real Mosquitto and
InfluxDB, fed over its own HTTP API, for the API and MQTT request/response tests.

The plant: one line ``l1`` with an energy counter (kWh), a good-unit counter, an order signal
and a SKU signal; a constant 0.4 kg CO₂e/kWh grid factor; three shifts; the API behind a
bearer token taken from ``${CARBONLINE_API_TOKEN}``. :func:`minutes` is what a flow would post:
18 minutes starting on a quarter hour half an hour ago, kWh and units per minute varying (so
the intensity of a sum differs from the mean of the minutes' intensities), orders ``A-1``
(minutes 0–5), ``A-2`` (6–11, SKU change at minute 9) and ``A-3`` (from minute 12).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from carbonline.config import parse_config
from carbonline.live import LiveRun
from carbonline.plant import build_plant
from carbonline.records import NS_PER_S
from servers._common import free_ports

MINUTE = 60 * NS_PER_S
FACTOR = 0.4  # kg CO₂e/kWh
KWH = [1.0 + (i % 4) * 0.5 for i in range(17)]  # energy used in minute i
UNITS = [10.0 + (i % 3) * 7 for i in range(17)]  # good units made in minute i
ORDERS = {0: "A-1", 6: "A-2", 12: "A-3"}  # minute → order starting then
SKUS = {0: "cola", 9: "lime"}
TOKEN_ENV = "CARBONLINE_API_TOKEN"


@dataclass
class Served:
    """A running run: its HTTP base ``url``, the auth ``headers``, the data's first minute
    ``t0`` (ns) and the InfluxDB database it writes to."""

    live: LiveRun
    url: str
    headers: dict[str, str]
    t0: int
    database: str

    @property
    def site(self) -> str:
        return self.live.plant.site


def quarter_hour_ago() -> int:
    """A quarter-hour boundary 30 to 45 minutes ago, ns: the data's minute 0."""
    now = time.time_ns()
    return now - now % (15 * MINUTE) - 30 * MINUTE


def minutes(t0: int, first: int = 0, last: int = 17) -> list[dict]:
    """The readings of minutes ``first``..``last`` as ``POST /api/v1/readings`` items, times
    in the forms a flow sends (RFC 3339 and epoch ms)."""
    items: list[dict] = []
    for i in range(first, last + 1):
        stamp = t0 + i * MINUTE
        rfc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp // NS_PER_S))
        items.append({"meter": "e1", "ts": rfc, "value": 500.0 + sum(KWH[:i]), "unit": "kWh"})
        items.append({"meter": "u1", "ts": stamp // 1_000_000, "value": sum(UNITS[:i])})
        if i in ORDERS:
            items.append({"meter": "o1", "ts": rfc, "value": ORDERS[i]})
        if i in SKUS:
            items.append({"meter": "s1", "ts": rfc, "value": SKUS[i]})
    return items


def plant_config(site: str, port: int, mosquitto_url: str, influx_url: str,
                 database: str, state_dir: Path | None = None) -> dict:
    run = {"idle_timeout": 0.5, "health_interval": 1}
    if state_dir is not None:  # no checkpoint during a test: the batch log keeps everything
        run.update(state_dir=str(state_dir), checkpoint_interval=3600)
    return {
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": FACTOR},
        "engine": {"lateness": 2},
        "shifts": {"shifts": [{"name": "early", "start": "06:00", "end": "14:00"},
                              {"name": "late", "start": "14:00", "end": "22:00"},
                              {"name": "night", "start": "22:00", "end": "06:00"}]},
        "run": run,
        "http": {"listen": f"127.0.0.1:{port}", "token": "${" + TOKEN_ENV + "}"},
        "sources": {"mqtt": {"url": mosquitto_url}},
        "sinks": {"mqtt": {"url": mosquitto_url},
                  "influx": {"url": influx_url, "database": database, "flush_interval": 0.05}},
        "lines": [{"id": "l1"}],
        "machines": [{"id": "filler", "line": "l1"}],
        "meters": [{"id": "e1", "role": "energy_counter", "machine": "filler", "unit": "kWh"},
                   {"id": "u1", "role": "units_counter", "line": "l1"},
                   {"id": "o1", "role": "order", "line": "l1"},
                   {"id": "s1", "role": "sku", "line": "l1"}],
    }


@contextmanager
def serve(mosquitto, influxdb, state_dir: Path | None = None) -> Iterator[Served]:
    """A run with the plant above, its own site and database, the token in the environment
    (as plant.toml's ``${CARBONLINE_API_TOKEN}`` reads it), a state store in ``state_dir``
    if given; stopped and dropped afterwards."""
    site = f"site{uuid.uuid4().hex[:8]}"
    database = f"api_{uuid.uuid4().hex[:10]}"
    influxdb.create_database(database)
    token = secrets.token_urlsafe(16)
    before = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = token
    try:
        (port,) = free_ports(1)
        plant = build_plant(parse_config(plant_config(site, port, mosquitto.url, influxdb.url,
                                                      database, state_dir)))
    finally:
        if before is None:
            del os.environ[TOKEN_ENV]
        else:
            os.environ[TOKEN_ENV] = before
    live = LiveRun(plant)
    runner = threading.Thread(target=live.run, daemon=True)
    runner.start()
    served = Served(live, f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"},
                    quarter_hour_ago(), database)
    try:
        wait_for(lambda: _answers(served.url + "/health"), "the HTTP app")
        yield served
    finally:
        live.stop()
        runner.join(60)
        influxdb.query(f'DROP DATABASE "{database}"')
    assert not runner.is_alive(), "the run did not stop"


@contextmanager
def served_with_order(mosquitto, influxdb) -> Iterator[Served]:
    """:func:`serve`, fed minutes 0–17 over HTTP, once order A-2 has ended: a run with closed
    windows and a finished order, so answers have bodies to check."""
    with serve(mosquitto, influxdb) as served:
        response = httpx.post(f"{served.url}/api/v1/readings",
                              json={"readings": minutes(served.t0, 0, 17)},
                              headers=served.headers, timeout=30)
        assert response.status_code == 202, response.text
        wait_for(lambda: served.live.view.order("A-2"), "order A-2 to end")
        yield served

def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(done: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def minute_sums(influxdb, served: Served, start: int, end: int) -> dict[str, float]:
    """Σ co2e_kg and Σ good_units of the ``1m`` rows starting in ``[start, end)``, asked of
    InfluxDB directly (not through carbonline's code)."""
    body = influxdb.query(
        'SELECT sum("co2e_kg"), sum("good_units"), count("co2e_kg") FROM "carbon_intensity" '
        f"WHERE \"window\" = '1m' AND time >= {start} AND time < {end}", db=served.database)
    series = body["results"][0].get("series")
    if not series:  # nothing written yet
        return {"co2e_kg": 0.0, "good_units": 0.0, "count": 0}
    _, co2e, units, count = series[0]["values"][0]
    return {"co2e_kg": co2e, "good_units": units, "count": count}
