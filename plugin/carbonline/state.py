"""The state store: what ``carbonline run`` needs to resume after a stop or a crash.

One SQLite file, ``<[run] state_dir>/state.sqlite`` (the sinks' spool lives there too):

- a **log** of every batch the engine takes, written (and the source acknowledged) *before*
  the engine sees it, so nothing the broker forgot is lost with the process;
- a **checkpoint**: the engine itself — open windows, meter states, watermark, revisions —
  and the analyser (baselines, detectors, open alerts), pickled every
  ``[run] checkpoint_interval``, after which the log up to it is dropped.

A restart restores the checkpoint and replays the log after it through the engine: the same
readings in the same order give the same rows, so windows are neither lost nor doubled (a row
written again is the same point). A checkpoint made with a different plant (lines, machines,
meters, factors, engine settings) is refused with a clear error instead of being misread;
connection settings (``[sources]``, ``[sinks]``, ``[http]``, ``[run]``) may change freely.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pluggy

from .analysis.analyser import Saved
from .config import ConfigError
from .engine.accumulator import Engine
from .plant import PlantModel
from .records import ReadingBatch

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (
    name TEXT PRIMARY KEY, plant TEXT NOT NULL, engine BLOB NOT NULL, log_upto INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, batch BLOB NOT NULL
);
"""
#: plant.toml sections that do not change what the engine computes.
CONNECTIONS = {"sources", "sinks", "http", "run"}


def plant_digest(plant: PlantModel) -> str:
    """A fingerprint of everything the engine's state depends on."""
    text = plant.config.model_dump_json(exclude=CONNECTIONS)
    return hashlib.sha256(text.encode()).hexdigest()


class StateStore:
    """Checkpoint and batch log of one run (``name`` tells workers sharing a folder apart)."""

    def __init__(self, folder: str | Path, plant: PlantModel, name: str = "engine") -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.path = Path(folder) / "state.sqlite"
        self.plant = plant
        self.name = name
        self.digest = plant_digest(plant)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self.last_logged = 0
        #: the analyser state :meth:`restore` found in the checkpoint (``None``: none saved)
        self.analyser: Saved | None = None

    def restore(self, manager: pluggy.PluginManager,
                clock: Callable[[], int]) -> tuple[Engine | None, list[ReadingBatch]]:
        """The checkpointed engine (``None`` when there is none) and the batches logged after
        it, in order, to be taken again."""
        row = self._db.execute("SELECT plant, engine, log_upto FROM checkpoint WHERE name = ?",
                               (self.name,)).fetchone()
        engine, upto = None, 0
        if row is not None:
            digest, blob, upto = row
            if digest != self.digest:
                raise ConfigError(f"{self.path}: the saved state belongs to a different plant "
                                  "(lines, meters, factors or engine settings changed); move "
                                  "it away to start afresh")
            saved = pickle.loads(blob)  # a bare engine: saved before the analyser was
            engine, self.analyser = saved if isinstance(saved, tuple) else (saved, None)
            engine.pm, engine.clock = manager, clock
        rows = self._db.execute("SELECT id, batch FROM log WHERE name = ? AND id > ? ORDER BY id",
                                (self.name, upto)).fetchall()
        if rows:
            self.last_logged = rows[-1][0]
        return engine, [pickle.loads(blob) for _, blob in rows]

    def log(self, batch: ReadingBatch) -> None:
        """Keep a batch until the next checkpoint covers it (committed before returning)."""
        kept = ReadingBatch(batch.readings, batch.context, batch.rejections)  # no receipt
        cursor = self._db.execute("INSERT INTO log (name, batch) VALUES (?, ?)",
                                  (self.name, pickle.dumps(kept)))
        self.last_logged = cursor.lastrowid

    def checkpoint(self, engine: Engine, analyser: Saved | None = None) -> None:
        """Save the engine, and the analyser's baselines and detectors with it (a restart
        would otherwise learn for an hour and forget open alerts); drop the log it covers."""
        blob = pickle.dumps((engine, analyser), protocol=pickle.HIGHEST_PROTOCOL)
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO checkpoint VALUES (?, ?, ?, ?)",
                             (self.name, self.digest, blob, self.last_logged))
            self._db.execute("DELETE FROM log WHERE name = ? AND id <= ?",
                             (self.name, self.last_logged))

    def close(self) -> None:
        self._db.close()
