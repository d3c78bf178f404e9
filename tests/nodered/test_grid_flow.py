"""Flow 4 (``grid-carbon-intensity.json``) in a real Node-RED: it polls a local server that
answers in the GB Carbon Intensity API's documented format, writes the factor series into a
real InfluxDB 1.6, and carbonline's ``[factors.historian]`` provider reads it back."""

from __future__ import annotations

import json
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from carbonline.config import parse_config
from carbonline.factors.providers import carbonline_emission_factors
from carbonline.plant import build_plant
from carbonline.records import NS_PER_S

from .conftest import deploy_flow, mqtt_env, serving, wait_for

#: ``GET /intensity`` as documented (https://carbon-intensity.github.io/api-definitions/,
#: "Carbon Intensity - National", example response: from/to in "YYYY-MM-DDThh:mmZ",
#: intensity forecast/actual in gCO2/kWh and an index). The current half hour has no actual
#: yet (``null``), as the live API answers it.
INTENSITY = {"data": [
    {"from": "2026-11-30T05:30Z", "to": "2026-11-30T06:00Z",
     "intensity": {"forecast": 266, "actual": 263, "index": "moderate"}},
    {"from": "2026-11-30T06:00Z", "to": "2026-11-30T06:30Z",
     "intensity": {"forecast": 250, "actual": None, "index": "moderate"}},
]}


class CarbonIntensityApi(ThreadingHTTPServer):
    """Replays the documented ``/intensity`` answer; remembers the paths asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server spelling
                api.asked.append(self.path)
                body = json.dumps(INTENSITY).encode()
                self.send_response(200 if self.path == "/intensity" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def ns(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp()) * NS_PER_S


def test_the_grid_series_lands_in_influxdb_and_carbonline_reads_it(
        flow_red, mosquitto, influxdb, influx_db):
    with serving(CarbonIntensityApi()) as api:
        env = {**mqtt_env(mosquitto),
               "CARBONLINE_GRID_API_URL": f"http://127.0.0.1:{api.server_address[1]}/intensity",
               "CARBONLINE_INFLUX_URL": influxdb.url, "CARBONLINE_INFLUX_DATABASE": influx_db}
        with flow_red(env) as red:
            deploy_flow(red, "grid-carbon-intensity.json")

            def points() -> list:
                body = influxdb.query('SELECT * FROM "grid_intensity"', db=influx_db)
                series = body["results"][0].get("series", [])
                return series[0]["values"] if series and len(series[0]["values"]) == 2 else []
            wait_for(points, "two grid points in InfluxDB")
    assert api.asked[0] == "/intensity"
    body = influxdb.query('SELECT * FROM "grid_intensity"', db=influx_db)
    (series,) = body["results"][0]["series"]
    rows = [dict(zip(series["columns"], values)) for values in series["values"]]
    assert [(r["time"], r["zone"], r["provider"]) for r in rows] == [
        ("2026-11-30T05:30:00Z", "GB", "carbonintensity.org.uk"),
        ("2026-11-30T06:00:00Z", "GB", "carbonintensity.org.uk")]
    assert [(r["kg_per_kwh"], r["actual_g_per_kwh"], r["forecast_g_per_kwh"], r["estimated"],
             r["intensity_index"]) for r in rows] == [
        (pytest.approx(0.263), 263, 266, False, "moderate"),
        (pytest.approx(0.250), None, 250, True, "moderate")]

    plant = build_plant(parse_config({
        "site": {"name": "s", "timezone": "Europe/London", "grid_zone": "GB"},
        "factors": {"series_max_gap": "30m",
                    "historian": {"url": influxdb.url, "database": influx_db,
                                  "measurement": "grid_intensity", "tags": {"zone": "GB"}}},
        "lines": [{"id": "l1"}], "machines": [{"id": "m", "line": "l1"}],
        "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}]}))
    start, end = ns("2026-11-30T05:30:00+00:00"), ns("2026-11-30T06:30:00+00:00")
    factors = carbonline_emission_factors(plant, "GB", start, end, "location")
    assert factors.provenance.provider == "historian"
    at = np.array([start, start + 29 * 60 * NS_PER_S, ns("2026-11-30T06:15:00+00:00")])
    assert factors.at(at).tolist() == pytest.approx([0.263, 0.263, 0.250])
