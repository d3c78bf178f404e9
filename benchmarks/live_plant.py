"""The live benchmark's plant, its MQTT stream and the Node-RED peer flow.

A plant of ``LINES`` lines, each with ``ENERGY_METERS`` cumulative kWh meters (one per machine)
and one good-units counter: 100 meters reading once a second of plant time. The same readings
go out in one of two shapes a plant's gateways use:

- ``single``: one reading per message, on carbonline's input convention
  ``carbonline/<site>/in/<meter>`` with ``{"ts": epoch ms, "value": v}``;
- ``batched``: one message per second holding all 100 meters, ``{"ts": …, "<meter>": v, …}``
  on ``gw/<site>/all`` (mapped in plant.toml by ``path`` and ``time_path``).

The peer is what plants write today: a Node-RED ``function`` node computing the same KPI
(per line per minute: Σ kWh deltas × factor / Σ unit deltas) from the same stream and writing
it to InfluxDB through ``/write`` with the core ``http request`` node.
"""

from __future__ import annotations

import json

import numpy as np

LINES = 10
ENERGY_METERS = 9
FACTOR = 0.4  # kg CO₂e/kWh, constant: both sides multiply the same number
LATENESS_S = 1


def meters() -> list[tuple[str, str, bool]]:
    """(meter id, line, is the units counter) for every meter, line by line."""
    return [(f"e{line:02d}_{k}", f"l{line:02d}", False)
            for line in range(LINES) for k in range(ENERGY_METERS)] + \
           [(f"u{line:02d}", f"l{line:02d}", True) for line in range(LINES)]


def plant_toml(site: str, broker: str, influx: str, database: str, http_port: int,
               batched: bool) -> str:
    """carbonline's plant.toml for the stream's shape, writing to ``database``."""
    parts = [f"""[site]
name = "{site}"
timezone = "UTC"
grid_zone = "DE"

[factors]
grid_kg_per_kwh = {FACTOR}

[engine]
lateness = "{LATENESS_S}s"

[run]
health_interval = "1s"  # /health tells the benchmark when the source has subscribed

[http]
listen = "127.0.0.1:{http_port}"

[sources.mqtt]
url = "{broker}"

[sinks.influx]
url = "{influx}"
database = "{database}"
api = "v1"
"""]
    parts += [f'[[lines]]\nid = "l{line:02d}"\n' for line in range(LINES)]
    for meter, line, units in meters():
        mapping = (f'mqtt = {{ topic = "gw/{site}/all", path = "{meter}", time_path = "ts" }}\n'
                   if batched else "")
        if units:
            parts.append(f'[[meters]]\nid = "{meter}"\nrole = "units_counter"\nline = "{line}"\n'
                         + mapping)
        else:
            parts.append(f'[[machines]]\nid = "m{meter[1:]}"\nline = "{line}"\n\n'
                         f'[[meters]]\nid = "{meter}"\nrole = "energy_counter"\n'
                         f'machine = "m{meter[1:]}"\nunit = "kWh"\n' + mapping)
    return "\n".join(parts)


def counters(ticks: int, seed: int = 7) -> np.ndarray:
    """Meter values per second (ticks × meters): kWh counters from 5–60 kW loads, units
    counters from 0–4 good units a second; rounded so JSON carries them exactly."""
    rng = np.random.default_rng(seed)
    ids = meters()
    values = np.empty((ticks, len(ids)))
    for j, (_, _, units) in enumerate(ids):
        if units:
            values[:, j] = np.cumsum(rng.integers(0, 5, ticks))
        else:
            kw = rng.uniform(5, 60) * rng.uniform(0.8, 1.2, ticks)
            values[:, j] = np.round(1000 + np.cumsum(kw / 3600), 6)
    return values


def messages(site: str, start_s: int, values: np.ndarray, batched: bool
             ) -> list[list[tuple[str, bytes]]]:
    """Per tick (one plant second from ``start_s``), the (topic, payload) messages to send."""
    ids = [m for m, _, _ in meters()]
    out = []
    for i, row in enumerate(values.tolist()):
        ts = (start_s + i) * 1000
        if batched:
            out.append([(f"gw/{site}/all", json.dumps({"ts": ts, **dict(zip(ids, row))})
                         .encode())])
        else:
            out.append([(f"carbonline/{site}/in/{m}", json.dumps({"ts": ts, "value": v})
                         .encode()) for m, v in zip(ids, row)])
    return out


FUNCTION = """const METERS = %(meters)s;
const FACTOR = %(factor)r, LATENESS_MS = %(lateness_ms)d;
let s = context.get('s');
if (!s) { s = {last: {}, win: {}, wm: 0}; context.set('s', s); }
const p = msg.payload;
const readings = [];
if (p.value !== undefined) {
  readings.push([msg.topic.slice(msg.topic.lastIndexOf('/') + 1), p.ts, p.value]);
} else {
  for (const k in p) if (k !== 'ts') readings.push([k, p.ts, p[k]]);
}
for (const [meter, ts, value] of readings) {
  const m = METERS[meter];
  if (m === undefined) continue;
  const prev = s.last[meter];
  s.last[meter] = [ts, value];
  if (ts > s.wm) s.wm = ts;
  if (!prev || ts <= prev[0] || value < prev[1]) continue;
  const minute = Math.floor((ts - 1) / 60000);  // the interval (prev, ts] ends in this minute
  const key = m[0] + ' ' + minute;
  const w = s.win[key] || (s.win[key] = {line: m[0], minute: minute, kwh: 0, units: 0});
  if (m[1]) w.units += value - prev[1]; else w.kwh += value - prev[1];
}
const out = [];
for (const key in s.win) {
  const w = s.win[key];
  if ((w.minute + 1) * 60000 + LATENESS_MS <= s.wm) {
    const co2e = w.kwh * FACTOR;
    out.push('kpi,line=' + w.line + ' co2e_kg=' + co2e + ',good_units=' + w.units +
             (w.units > 0 ? ',co2e_per_unit_kg=' + co2e / w.units : '') + ' ' + w.minute * 60);
    delete s.win[key];
  }
}
if (!out.length) return null;
return {payload: out.join('\\n'), headers: {'Content-Type': 'text/plain'}};
"""


def node_red_flow(site: str, broker_port: int, influx: str, database: str) -> list[dict]:
    """The peer flow: ``mqtt in`` (persistent session, QoS 1) → ``function`` → ``http request``
    POST to InfluxDB ``/write``. ``autoUnsubscribe`` off: by default a closing ``mqtt in``
    node unsubscribes, and its persistent session would queue nothing while Node-RED is
    away."""
    lookup = {m: [line, units] for m, line, units in meters()}
    code = FUNCTION % {"meters": json.dumps(lookup), "factor": FACTOR,
                       "lateness_ms": LATENESS_S * 1000}
    tab = f"bench-{site}"
    return [
        {"id": tab, "type": "tab", "label": f"carbonline benchmark peer ({site})"},
        {"id": f"{tab}-broker", "type": "mqtt-broker", "name": "plant broker",
         "broker": "127.0.0.1", "port": str(broker_port), "clientid": f"peer-{site}",
         "autoConnect": True, "usetls": False, "protocolVersion": "4", "keepalive": "60",
         "cleansession": False, "autoUnsubscribe": False},
        {"id": f"{tab}-in", "type": "mqtt in", "z": tab, "qos": "1", "datatype": "json",
         "broker": f"{tab}-broker", "topic": f"carbonline/{site}/in/+", "wires": [[f"{tab}-fn"]]},
        {"id": f"{tab}-in2", "type": "mqtt in", "z": tab, "qos": "1", "datatype": "json",
         "broker": f"{tab}-broker", "topic": f"gw/{site}/all", "wires": [[f"{tab}-fn"]]},
        {"id": f"{tab}-fn", "type": "function", "z": tab, "name": "CO2e per unit per minute",
         "func": code, "outputs": 1, "wires": [[f"{tab}-write"]]},
        {"id": f"{tab}-write", "type": "http request", "z": tab, "method": "POST",
         "ret": "txt", "url": f"{influx}/write?db={database}&precision=s", "wires": [[]]},
    ]
