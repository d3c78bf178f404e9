"""The live benchmark: Mosquitto → ``carbonline run`` → InfluxDB, against a Node-RED function
node computing the same KPI from the same stream (:mod:`benchmarks.live_plant`).

Run from the repository root (``bash scripts/bench.sh`` runs it after the file benchmark)::

    .venv/bin/python -m benchmarks.live

It starts a private Mosquitto, InfluxDB 1.6 and Node-RED 4.1 with the test suite's server
fixtures (``tests/servers``: installed on first use), then for each payload shape (1 and 100
readings per message):

1. **Latency**: carbonline and the Node-RED flow both subscribed, the stream is published at
   ``--speed`` × plant time (100 meters at 1 Hz: 100 × speed readings/s) for ``--seconds``.
   A poller asks both InfluxDB databases every 20 ms for each line's newest 1-minute window;
   a window's latency is when it is first queryable minus when the reading that closes it
   (the first one ``lateness`` past its end, all 100 meters) was handed to the broker.
2. **Throughput**: both consumers offline, a backlog is queued on their persistent sessions;
   then each drains it alone. Sustained readings/s = readings the windows between the 10 % and
   the 90 % mark of the backlog's windows cover / the time between those marks being
   queryable, so start-up and the tail do not count.

Both must agree: the Node-RED KPI and carbonline's ``co2e_per_unit_kg`` for every window of the
latency phase (largest relative difference printed). The table goes to stdout and to
``benchmarks/results-live.md``.
"""

from __future__ import annotations

import argparse
import calendar
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt

from .live_plant import LATENESS_S, LINES, messages, meters, node_red_flow, plant_toml, counters

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results-live.md"
sys.path.insert(0, str(ROOT / "tests"))  # the real-server fixtures, shared with the tests

from run_process import start_run  # noqa: E402
from servers._common import free_ports  # noqa: E402
from servers.influxdb import InfluxDB, influxd_on  # noqa: E402
from servers.mosquitto import start_mosquitto  # noqa: E402
from servers.nodered import node_red_on  # noqa: E402

POLL_S = 0.02
MINUTE = 60


class Publisher:
    """One QoS 1 publisher; ``sent[i]`` is the monotonic time tick ``i`` was fully handed
    over."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-gateway")
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, ticks: list[list[tuple[str, bytes]]], speed: float | None) -> list[float]:
        """Publish tick by tick (``speed`` plant seconds per wall second; ``None``: as fast
        as the broker takes it) and wait until the broker has acknowledged everything."""
        sent, pending = [], []
        began = time.monotonic()
        for i, tick in enumerate(ticks):
            if speed:
                delay = began + i / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            pending += [self.client.publish(topic, payload, qos=1) for topic, payload in tick]
            sent.append(time.monotonic())
            if len(pending) > 20_000:
                for info in pending:
                    info.wait_for_publish(60)
                pending = []
        for info in pending:
            info.wait_for_publish(60)
        return sent

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def newest_windows(influx: InfluxDB, database: str, measurement: str) -> dict[str, int]:
    """Each line's newest 1-minute window in ``database`` (epoch s)."""
    where = """ WHERE "window" = '1m'""" if measurement == "carbon_intensity" else ""
    body = influx.query(f'SELECT last("co2e_kg") FROM "{measurement}"{where} GROUP BY "line"',
                        db=database)
    series = body["results"][0].get("series", [])
    return {s["tags"]["line"]: _epoch(s["values"][0][0]) for s in series}


def window_count(influx: InfluxDB, database: str, measurement: str) -> int:
    where = """ WHERE "window" = '1m'""" if measurement == "carbon_intensity" else ""
    body = influx.query(f'SELECT count("co2e_kg") FROM "{measurement}"{where}', db=database)
    series = body["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def _epoch(stamp: str) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


class Watcher(threading.Thread):
    """Polls both databases; ``seen[(consumer, line, window start)]`` = monotonic first-seen."""

    def __init__(self, influx: InfluxDB, targets: dict[str, tuple[str, str]]) -> None:
        super().__init__(daemon=True)
        self.influx, self.targets = influx, targets
        self.seen: dict[tuple[str, str, int], float] = {}
        self.newest: dict[tuple[str, str], int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for consumer, (database, measurement) in self.targets.items():
                now = time.monotonic()
                for line, newest in newest_windows(self.influx, database, measurement).items():
                    last = self.newest.get((consumer, line))
                    start = newest if last is None else last + MINUTE
                    for window in range(start, newest + 1, MINUTE):
                        self.seen[(consumer, line, window)] = now
                    self.newest[(consumer, line)] = newest
            time.sleep(POLL_S)


def latency_phase(influx: InfluxDB, publisher: Publisher, site: str, start_s: int,
                  values: np.ndarray, batched: bool, speed: float, databases: dict
                  ) -> dict[str, list[float]]:
    """Stream ``values`` paced; latency (s) of every window closed, per consumer."""
    ticks = messages(site, start_s, values, batched)
    watcher = Watcher(influx, {"carbonline": (databases["carbonline"], "carbon_intensity"),
                               "node-red": (databases["node-red"], "kpi")})
    watcher.start()
    sent = publisher.send(ticks, speed)
    time.sleep(2)
    watcher.done.set()
    watcher.join()
    out: dict[str, list[float]] = {"carbonline": [], "node-red": []}
    for (consumer, _, window), seen in watcher.seen.items():
        closing = window + MINUTE + LATENESS_S - start_s  # the tick whose readings close it
        if 0 < window - start_s and closing < len(sent):  # the first, partial minute aside
            out[consumer].append(seen - sent[closing])
    return out


def drain(influx: InfluxDB, database: str, measurement: str, windows: int, start) -> float:
    """Start a consumer on its queued backlog of ``windows`` 1-minute windows (each of
    ``LINES`` lines); sustained readings/s between the 10 % and the 90 % mark of them being
    queryable, so start-up and the tail do not count."""
    start()
    low, high = int(windows * 0.1) * LINES, int(windows * 0.9) * LINES
    marks: dict[int, float] = {}
    deadline = time.monotonic() + 900
    while high not in marks:
        count = window_count(influx, database, measurement)
        now = time.monotonic()
        marks.update({mark: now for mark in (low, high) if count >= mark and mark not in marks})
        if now > deadline:
            raise RuntimeError(f"{database}: only {count} of {windows * LINES} windows")
        time.sleep(POLL_S)
    if marks[high] == marks[low]:
        raise RuntimeError(f"{database}: the backlog was written in one go; make it larger")
    return (high - low) // LINES * MINUTE * len(meters()) / (marks[high] - marks[low])


def agreement(influx: InfluxDB, databases: dict) -> tuple[int, float]:
    """(windows compared, largest relative difference) of kg CO₂e/unit, carbonline vs peer."""
    ours = influx.query('SELECT "co2e_per_unit_kg" FROM "carbon_intensity" '
                        """WHERE "window" = '1m' GROUP BY "line\"""", db=databases["carbonline"])
    peer = influx.query('SELECT "co2e_per_unit_kg" FROM "kpi" GROUP BY "line"',
                        db=databases["node-red"])

    def table(body: dict) -> dict:
        return {(s["tags"]["line"], row[0]): row[1]
                for s in body["results"][0].get("series", []) for row in s["values"]}

    a, b = table(ours), table(peer)
    common = sorted(set(a) & set(b))
    if not common:
        raise RuntimeError("carbonline and the Node-RED peer wrote no window in common")
    worst = max(abs(a[k] - b[k]) / abs(b[k]) for k in common)
    return len(common), worst


def run_shape(servers: dict, batched: bool, args: argparse.Namespace, start_s: int) -> dict:
    """Both phases for one payload shape; returns its figures."""
    shape = "batched" if batched else "single"
    site = f"bench{shape}"
    influx, broker, nodered, work = (servers[k] for k in ("influx", "broker", "nodered", "work"))
    per_message = len(meters()) if batched else 1
    lat_dbs = {"carbonline": f"{shape}_lat_carbonline", "node-red": f"{shape}_lat_nodered"}
    drain_dbs = {"carbonline": f"{shape}_drain_carbonline", "node-red": f"{shape}_drain_nodered"}
    for db in [*lat_dbs.values(), *drain_dbs.values()]:
        influx.create_database(db)
    (http_port,) = free_ports(1)
    config = work / f"{shape}.toml"

    def carbonline(database: str, wait: bool = True) -> subprocess.Popen:
        """``carbonline run`` writing to ``database``; with ``wait``, once it has subscribed
        (draining a backlog, the subscription is only confirmed behind the queued messages).
        Killed when the benchmark ends, whatever happened."""
        config.write_text(plant_toml(site, broker.url, influx.url, database, http_port, batched))
        if wait:
            process = start_run(config, http_port, broker.url)
        else:
            process = subprocess.Popen([sys.executable, "-m", "carbonline", "run", "--config",
                                        str(config)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
        servers["cleanup"].callback(process.kill)
        return process

    def stop(process) -> None:
        process.send_signal(signal.SIGTERM)
        if process.wait(120):
            raise RuntimeError(process.communicate()[1])

    publisher = Publisher(broker.port)
    lat_ticks = int(args.seconds * args.speed)
    backlog_minutes = args.backlog_minutes * (10 if batched else 1)
    values = counters(lat_ticks + backlog_minutes * MINUTE + LATENESS_S + 2)
    print(f"{shape}: latency, {lat_ticks} plant s at ×{args.speed:g} …", flush=True)
    process = carbonline(lat_dbs["carbonline"])
    nodered.deploy(node_red_flow(site, broker.port, influx.url, lat_dbs["node-red"]))
    time.sleep(3)  # Node-RED's broker connection comes up after the deploy
    latency = latency_phase(influx, publisher, site, start_s, values[:lat_ticks], batched,
                            args.speed, lat_dbs)
    stop(process)
    nodered.deploy(node_red_flow(site, broker.port, influx.url, drain_dbs["node-red"]))
    time.sleep(1)
    nodered.stop()  # its session queues the backlog, as carbonline's does
    compared, worst = agreement(influx, lat_dbs)

    print(f"{shape}: queueing a backlog of {backlog_minutes} plant minutes …", flush=True)
    backlog_start = start_s + lat_ticks + 10 * MINUTE
    backlog_start -= backlog_start % MINUTE
    publisher.send(messages(site, backlog_start, values[lat_ticks:], batched), None)
    publisher.close()
    print(f"{shape}: carbonline drains …", flush=True)
    running = []
    ours = drain(influx, drain_dbs["carbonline"], "carbon_intensity", backlog_minutes,
                 lambda: running.append(carbonline(drain_dbs["carbonline"], wait=False)))
    stop(running[0])
    print(f"{shape}: {ours:,.0f} readings/s; Node-RED drains …", flush=True)
    theirs = drain(influx, drain_dbs["node-red"], "kpi", backlog_minutes, nodered.start)
    print(f"{shape}: {theirs:,.0f} readings/s", flush=True)
    return {"shape": shape, "per_message": per_message, "latency": latency,
            "throughput": {"carbonline": ours, "node-red": theirs},
            "compared": compared, "worst": worst}


def table(results: list[dict], args: argparse.Namespace) -> str:
    rows = ["| payload | consumer | sustained readings/s | messages/s | vs Node-RED | "
            "p50 window close → queryable | p99 | windows timed |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for consumer in ("carbonline", "node-red"):
            rate = r["throughput"][consumer]
            lat = np.array(r["latency"][consumer])
            ratio = rate / r["throughput"]["node-red"]
            rows.append(
                f"| {r['per_message']} reading{'s' if r['per_message'] > 1 else ''}/message | "
                f"{'carbonline run' if consumer == 'carbonline' else 'Node-RED 4.1 function'} | "
                f"{rate:,.0f} | {rate / r['per_message']:,.0f} | "
                f"{'—' if consumer == 'node-red' else f'{ratio:.2f}×'} | "
                f"{np.percentile(lat, 50) * 1000:,.0f} ms | "
                f"{np.percentile(lat, 99) * 1000:,.0f} ms | {len(lat)} |")
    notes = [f"- {r['per_message']}/message: carbonline and the peer agree on "
             f"{r['compared']} windows, largest relative difference {r['worst']:.1e}"
             for r in results]
    return "\n".join([
        f"Live benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.machine()} × {len(os.sched_getaffinity(0))} CPU; "
        f"{len(meters())} meters ({LINES} lines), latency phase paced at ×{args.speed:g} "
        f"({len(meters()) * args.speed:,.0f} readings/s) for {args.seconds:g} s; backlog "
        f"{args.backlog_minutes} plant minutes ({args.backlog_minutes * 6_000:,} readings; "
        f"×10 batched); `python -m benchmarks.live`", "", *rows, "", *notes])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="carbonline live benchmark (MQTT → InfluxDB)")
    parser.add_argument("--speed", type=float, default=30,
                        help="plant seconds per wall second in the latency phase")
    parser.add_argument("--seconds", type=float, default=60, help="latency phase, wall s")
    parser.add_argument("--backlog-minutes", type=int, default=50,
                        help="plant minutes queued for the throughput phase (100 readings a "
                             "second; ×10 for 100-reading payloads)")
    parser.add_argument("--shapes", default="single,batched")
    args = parser.parse_args(argv)
    now = int(time.time())
    span = args.seconds * args.speed + (args.backlog_minutes * 10 + 20) * MINUTE  # plant s
    start_s = now - now % 3600 - int(span) - 3600  # all of it behind the wall clock: no "future"
    with tempfile.TemporaryDirectory(prefix="carbonline-live-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        for folder in ("mosquitto", "influx", "node-red"):
            (work / folder).mkdir()
        broker = start_mosquitto(work / "mosquitto", max_queued=10_000_000)
        stack.callback(broker.stop)
        influx = stack.enter_context(influxd_on(work / "influx"))
        nodered = stack.enter_context(node_red_on(work / "node-red"))
        servers = {"influx": influx, "broker": broker, "nodered": nodered, "work": work,
                   "cleanup": stack}
        results = [run_shape(servers, shape == "batched", args, start_s)
                   for shape in args.shapes.split(",")]
    text = table(results, args)
    print(text)
    RESULTS.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
