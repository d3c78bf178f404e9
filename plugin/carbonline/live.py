"""``carbonline run``: the engine attached to a live plant.

The same :class:`~carbonline.engine.accumulator.Engine` as a replay, fed by live sources
(MQTT, OPC UA, InfluxDB — whatever the plant.toml ``[sources.*]`` sections name, plus any extra
inputs) and writing to live sinks (``[sinks.*]``). Each source's ``read()`` runs in a thread of
its own and hands batches to this loop through a queue, so one slow source never holds up
another and the engine, which is not thread-safe, is only touched here.

What the loop adds to a replay, because a plant is not a file:

- **Idle timeout.** Event time only moves when readings arrive. When none has arrived for
  ``[run] idle_timeout`` seconds of wall-clock time, the watermark moves on with the wall clock
  (newest reading + time since it arrived − lateness), so the last windows of a stopped line
  still close.
- **Health.** Every ``[run] health_interval`` seconds a ``carbonline_health`` row per
  component goes to every sink: the engine's accepted and rejected counts by reason, each
  source's and sink's own counters and queue depth, and per line the age of its newest reading
  (seconds, wall clock minus event time).
- **One HTTP app** (FastAPI on uvicorn at ``[http] listen``): the ``/api/v1`` API
  (:mod:`carbonline.api`) answered from an in-memory view of the rows the run emits
  (:class:`~carbonline.api.view.RecentRows`, fed before the sinks, so a flow that hears of a
  finished order on MQTT finds it in the API) and the history store; ``POST
  /api/v1/readings`` is a source of the run like any other; ``/health``, ``/metrics`` and the
  routers sources bring (the InfluxDB subscription endpoint). The MQTT publisher answers the
  same questions as MQTT requests (:mod:`carbonline.api.requests`).

Stopping (``stop()``, SIGINT/SIGTERM in the CLI) closes the sources, takes what they still
hand over, closes every window (partial windows are written with their ``coverage_pct``) and
closes the sinks. With a state store (``[run] state_dir``) it instead saves a checkpoint and
leaves the windows open: the next start restores them, replays the batch log and goes on, and
a crash loses nothing either (:mod:`carbonline.state`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pluggy
import uvicorn

from .analysis.analyser import Saved, analyser_for
from .api.app import create_app
from .api.context import ApiContext
from .api.ingest import HttpReadings
from .api.requests import answer
from .api.view import RecentRows
from .audit.sink import LedgerSink, ledger_path
from .config import PlantConfig
from .engine.accumulator import Engine
from .engine.increments import NO_TIME
from .plant import ROLE, PlantModel
from .plugins import get_manager
from .records import NS_PER_S, HealthRow, Reason, ReadingBatch, Row, merged
from .replay import open_sinks, open_sources
from .state import StateStore

log = logging.getLogger(__name__)

#: How long the loop waits for a batch before it checks the clock, seconds.
TICK_S = 0.5
#: Readings taken from the queue for one engine step at most (queued batches are merged).
MERGE_READINGS = 50_000


def configured_inputs(config: PlantConfig) -> list[str]:
    """The URLs of the plant.toml ``[sources.*]`` sections, in a fixed order."""
    return [s.url for s in (config.sources.mqtt, config.sources.opcua, config.sources.influx)
            if s is not None]


def configured_outputs(config: PlantConfig) -> list[str]:
    """The URLs of the plant.toml ``[sinks.*]`` sections."""
    return [s.url for s in (config.sinks.influx, config.sinks.mqtt) if s is not None]


@dataclass
class RunSummary:
    """What a run did, for the CLI's last words."""

    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    rows_written: int = 0
    health_rows: int = 0


class LiveRun:
    """One plant's live loop. ``run()`` blocks until ``stop()`` (from another thread)."""

    def __init__(
        self,
        plant: PlantModel,
        inputs: Sequence[str] = (),
        outputs: Sequence[str] = (),
        pm: pluggy.PluginManager | None = None,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.plant = plant
        pm = pm or get_manager()
        config = plant.config
        inputs = [*configured_inputs(config), *inputs]
        outputs = [*configured_outputs(config), *outputs]
        if not inputs:
            raise ValueError("nothing to read: configure a [sources.mqtt], [sources.opcua] or "
                             "[sources.influx] section, or give --input")
        if not outputs:
            raise ValueError("nowhere to write: configure [sinks.influx] or [sinks.mqtt], or "
                             "give --output")
        self.sources = open_sources(plant, inputs, pm)
        #: readings posted to the API: a source of the run beside ``sources`` (the inputs)
        self.http_readings = HttpReadings(plant, f"http://{config.http.listen}/api/v1/readings")
        self.sinks = open_sinks(plant, outputs, pm)
        self.store = StateStore(config.run.state_dir, plant) if config.run.state_dir else None
        restored, self._backlog = (self.store.restore(pm, time.time_ns) if self.store
                                   else (None, []))
        self.engine = restored or Engine(plant, pm)
        ledger = ledger_path(plant)  # with a state store: every window revision, hash-chained
        if ledger is not None:
            self.sinks.append(LedgerSink(self.engine, ledger))
        self.analyser = analyser_for(plant, pm, self.store.analyser if self.store else None)
        self.clock = wall_clock
        self.summary = RunSummary()
        self._batches: queue.Queue[tuple[object, ReadingBatch]] = queue.Queue(maxsize=1000)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: uvicorn.Server | None = None
        self._last_arrival = time.monotonic()
        # a meter's line (via its machine); -1 for shared utilities, the main meter and the
        # SKU/order signals, which say nothing about a line's readings being fresh
        self._line_of_meter = np.where(np.isin(plant.role, (ROLE["sku"], ROLE["order"])), -1,
                                       plant.line)
        self._newest = np.full(len(plant.lines), NO_TIME, dtype=np.int64)  # per line, ns
        self.latest_health: list[HealthRow] = []
        self._stopped: dict[str, int] = {}  # sources whose read() failed or ended early
        #: the rows the API answers from memory (the newest windows, orders, open alerts)
        self.view = RecentRows()
        api = ApiContext.for_run(plant, self.view, pm)
        for sink in self.sinks:  # the MQTT publisher answers requests on its own connection
            if hasattr(sink, "serve_requests"):
                sink.serve_requests(partial(answer, api))
        self.app = create_app([s.router for s in self._every_source if hasattr(s, "router")],
                              lambda: self.latest_health, api, config.http.token)

    @property
    def _every_source(self) -> list:
        """The inputs' sources and the HTTP API's readings."""
        return [*self.sources, self.http_readings]

    # --- lifecycle ---------------------------------------------------------------------------

    def run(self) -> RunSummary:
        """Start the sources and the HTTP app; loop until :meth:`stop`; close everything."""
        self._serve_http()
        for batch in self._backlog:  # logged before the last stop, after its checkpoint
            for rows in self.engine.ingest_steps(batch):
                self._emit(rows)
        self._backlog = []
        for source in self._every_source:
            thread = threading.Thread(target=self._pump, args=(source,), daemon=True,
                                      name=f"source {source.name}")
            thread.start()
            self._threads.append(thread)
        run = self.plant.config.run
        next_health = time.monotonic() + run.health_interval
        next_checkpoint = time.monotonic() + run.checkpoint_interval
        try:
            while not self._stop.is_set():
                self._step()
                if time.monotonic() >= next_health:
                    self.write_health()
                    next_health += run.health_interval
                if self.store is not None and time.monotonic() >= next_checkpoint:
                    self.store.checkpoint(self.engine, self._analyser_state())
                    next_checkpoint = time.monotonic() + run.checkpoint_interval
        finally:
            self.close()
        return self.summary

    def stop(self) -> None:
        self._stop.set()

    def _analyser_state(self) -> Saved | None:
        """What the checkpoint keeps of the analyser (``None`` without one)."""
        return self.analyser.saved() if self.analyser is not None else None

    def feed(self, source, batch: ReadingBatch) -> None:
        """One batch of ``source`` into the engine now, without the loop (an embedding that
        keeps its own clock, e.g. a test seeding a database minute by minute)."""
        self._take([(source, batch)])

    def write_health(self) -> None:
        """``carbonline_health`` rows as of the wall clock, to every sink."""
        self._emit(self.health())

    def _pump(self, source) -> None:
        """A source's thread: its batches into the queue until it ends. A source that fails
        or ends by itself is logged and shows as ``stopped`` in its health row; the others go
        on."""
        try:
            for batch in source.read():
                self._batches.put((source, batch))
        except Exception:  # noqa: BLE001 - a broken source must not take the run down silently
            log.exception("source %s failed; the run goes on without it", source.name)
            self._stopped[source.name] = 1
            return
        if not self._stop.is_set():
            log.error("source %s ended by itself; the run goes on without it", source.name)
            self._stopped[source.name] = 1

    def _serve_http(self) -> None:
        host, port = self.plant.config.http.listen.rsplit(":", 1)
        config = uvicorn.Config(self.app, host=host, port=int(port), log_level="warning",
                                lifespan="off")
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, daemon=True, name="http")
        thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP app could not listen on {host}:{port}")
            time.sleep(0.01)
        self._http_thread = thread

    def close(self) -> None:
        """Close the sources, take what they handed over, close the windows (or checkpoint
        them), write the last health rows and close the sinks."""
        for source in self._every_source:
            if hasattr(source, "close"):  # a file given as an extra input has ended already
                source.close()
        for thread in self._threads:
            thread.join(30)
        while True:  # what the sources handed over while closing
            try:
                source, batch = self._batches.get_nowait()
            except queue.Empty:
                break
            if batch.receipt and self.store is not None:
                continue  # never acknowledged: the broker delivers it again next start
            self._take([(source, batch)])
        if self.store is not None:  # windows stay open: the next start goes on with them
            self.store.checkpoint(self.engine, self._analyser_state())
            self.store.close()
        else:
            self._emit(self.engine.flush())
        self.write_health()
        for sink in self.sinks:
            sink.close()
        if self._server is not None:
            self._server.should_exit = True
            self._http_thread.join(10)
        stats = self.engine.stats
        self.summary.accepted = stats.accepted
        self.summary.rejected = {r.value: n for r, n in stats.rejected.items()}

    # --- the loop ----------------------------------------------------------------------------

    def _step(self) -> None:
        try:
            first = self._batches.get(timeout=TICK_S)
        except queue.Empty:
            first = None
        if first is not None and self._take(self._queued_with(first)):
            return
        idle = time.monotonic() - self._last_arrival
        newest = self.engine.newest_reading
        if newest is not None and idle > self.plant.config.run.idle_timeout:
            lateness = int(self.plant.config.engine.lateness * NS_PER_S)
            self._emit(self.engine.advance(newest + int(idle * NS_PER_S) - lateness))

    def _queued_with(self, first: tuple[object, ReadingBatch]) -> list:
        """``first`` and what else the sources have queued, up to ``MERGE_READINGS``: a
        broker delivering one reading a message hands over one small batch each, and one
        engine step per reading would cap the run at a few thousand readings a second."""
        parts = [first]
        count = len(first[1].readings)
        while count < MERGE_READINGS:
            try:
                parts.append(self._batches.get_nowait())
            except queue.Empty:
                break
            count += len(parts[-1][1].readings)
        return parts

    def _take(self, parts: list[tuple[object, ReadingBatch]]) -> bool:
        """Sources' batches into the engine as one: logged in the state store first (then
        the sources may forget them), so a crash after this point loses nothing. ``False``
        when there was nothing in them (a source's idle tick)."""
        batch = merged([b for _, b in parts])
        held = bool(len(batch.readings) or batch.context or batch.rejections)
        if held and self.store is not None:
            self.store.log(batch)
        for source, part in parts:
            if part.receipt and hasattr(source, "acknowledge"):
                # messages that gave nothing (a repeated SKU text) are acknowledged too, or
                # the broker would stop sending once its in-flight limit is reached
                source.acknowledge(part.receipt)
        if not held:
            return False
        self._last_arrival = time.monotonic()
        self._note_newest(batch)
        for rows in self.engine.ingest_steps(batch):
            self._emit(rows)
        return True

    def _emit(self, rows: list[Row]) -> None:
        if not rows:
            return
        if self.analyser is not None:
            rows = self.analyser.process(rows)
        self.view.take(rows)  # before the sinks: what a flow hears of, the API knows
        for sink in self.sinks:
            try:
                sink.write(rows)
            except Exception:  # noqa: BLE001 - one failing sink must not stop the others
                log.exception("sink %s failed to take %d rows", sink.name, len(rows))
        self.summary.rows_written += len(rows)

    # --- health ------------------------------------------------------------------------------

    def health(self) -> list[HealthRow]:
        """``carbonline_health`` rows as of now (the last ones are served at ``/health``)."""
        now = self.clock()
        stamp = now - now % NS_PER_S
        site = self.plant.site
        stats = self.engine.stats
        engine_fields: dict[str, int | float] = {
            "accepted": stats.accepted,
            "rejected": sum(stats.rejected.values()),
            "late": stats.rejected[Reason.LATE],
            "context_changes": stats.context_changes,
            "queue_depth": self._batches.qsize(),
        }
        engine_fields.update({f"rejected_{r.value}": stats.rejected[r] for r in Reason})
        rows = [HealthRow(stamp, site, "engine", engine_fields)]
        parts = [("source", p) for p in self._every_source] + [("sink", p) for p in self.sinks]
        for kind, part in parts:
            fields: dict[str, int | float] = {k: int(v) for k, v in
                                              getattr(part, "counters", {}).items()}
            if hasattr(part, "queue_depth"):
                fields["queue_depth"] = int(part.queue_depth)
            if getattr(part, "spool_depth", None) is not None:
                fields["spool_depth"] = int(part.spool_depth)
                fields["spool_full"] = int(part.spool_full)
            if kind == "source":
                fields["stopped"] = self._stopped.get(part.name, 0)
            if fields:  # component "source mqtt://broker:1883": a broker is often both
                rows.append(HealthRow(stamp, site, f"{kind} {part.name}", fields))
        rows.extend(self._line_ages(stamp, now))
        self.summary.health_rows += len(rows)
        self.latest_health = rows
        return rows

    def _note_newest(self, batch: ReadingBatch) -> None:
        """Remember each line's newest reading time as it arrives (the engine's own meter
        state lags by the lateness, which would make every line look late)."""
        meters = batch.readings["meter"]
        known = (meters >= 0) & (meters < len(self._line_of_meter))
        lines = self._line_of_meter[meters[known]]
        mine = lines >= 0
        np.maximum.at(self._newest, lines[mine], batch.readings["time"][known][mine])

    def _line_ages(self, stamp: int, now: int) -> list[HealthRow]:
        """Per line: seconds from the event time of its newest reading to now."""
        return [HealthRow(stamp, self.plant.site, "engine",
                          {"last_reading_age_s": (now - int(newest)) / NS_PER_S}, line)
                for line, newest in zip(self.plant.lines, self._newest) if newest != NO_TIME]
