"""A sink's spool: line-protocol points on disk until the server has acknowledged them.

With ``[run] state_dir`` set, the InfluxDB writer puts every point here first and removes it
only once the server has taken it, so points survive an outage longer than memory would hold,
and a restart — even ``kill -9`` — sends what was not acknowledged again. A point sent twice is
the same point (same time and tags), which InfluxDB stores once. The spool is bounded
(``spool_max_points``); when full, new points are refused, counted and logged, and
``spool_full`` says so in ``carbonline_health``.

It is one SQLite table in ``<state_dir>/state.sqlite`` (the state store the design brief names),
one row per point, keyed by an increasing id so the order is kept.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spool_sink ON spool (sink, id);
"""


class Spool:
    """The FIFO of one sink (``name``) in the state store at ``folder``."""

    def __init__(self, folder: str | Path, name: str, max_points: int) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.name = name
        self.max_points = max_points
        self._lock = threading.Lock()
        self._db = sqlite3.connect(Path(folder) / "state.sqlite", check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._depth = self._db.execute("SELECT count(*) FROM spool WHERE sink = ?",
                                       (name,)).fetchone()[0]

    @property
    def depth(self) -> int:
        """Points spooled and not yet acknowledged."""
        return self._depth

    @property
    def full(self) -> bool:
        return self._depth >= self.max_points

    def push(self, lines: list[str]) -> int:
        """Append ``lines`` in order; return how many did not fit (refused)."""
        with self._lock:
            room = max(self.max_points - self._depth, 0)
            kept = lines[:room]
            if kept:
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.executemany("INSERT INTO spool (sink, line) VALUES (?, ?)",
                                         [(self.name, line) for line in kept])
                self._depth += len(kept)
            return len(lines) - len(kept)

    def after(self, last_id: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` (id, line) spooled after ``last_id``, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT id, line FROM spool WHERE sink = ? AND id > ? ORDER BY id LIMIT ?",
                (self.name, last_id, limit)).fetchall()

    def remove_through(self, last_id: int) -> None:
        """Forget every point up to ``last_id``: the server has them."""
        with self._lock:
            removed = self._db.execute("DELETE FROM spool WHERE sink = ? AND id <= ?",
                                       (self.name, last_id)).rowcount
            self._depth -= removed

    def close(self) -> None:
        with self._lock:
            self._db.close()
