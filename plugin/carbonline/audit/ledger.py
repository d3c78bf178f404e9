"""The audit ledger: an append-only, hash-chained SQLite file (``<state_dir>/ledger.sqlite``).

One record per emitted window revision (:mod:`.trail` makes the entries). A record's body is
its entry plus its record number (``seq``, from 1) and the wall-clock time it was recorded, as
canonical JSON (sorted keys, no spaces, floats as Python writes them, which read back to the
same float64). Its hash is SHA-256 over the previous record's hash, a newline and the body, the
first record chaining from 64 zeros; so editing, removing, inserting or reordering any record
breaks the chain at that record, which :mod:`.verify` names. The ``head`` table keeps the last
record number and hash, so cutting records off the end shows too (compare the head hash with
one published elsewhere to catch a rewrite of the whole file).

SQLite triggers refuse UPDATE and DELETE on the records: carbonline never changes one; a late
reading is a new record (the next revision), the old one is kept.

An entry identical to one already recorded for the same window and revision (a restarted run
replaying its batch log emits the same rows again) is not recorded twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..records import NS_PER_S

GENESIS = "0" * 64
FILE_NAME = "ledger.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL, start INTEGER NOT NULL, line TEXT NOT NULL, sku TEXT NOT NULL,
    order_id TEXT NOT NULL, revision INTEGER NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS record_window ON record (line, kind, start);
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS record_no_update BEFORE UPDATE ON record
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS record_no_delete BEFORE DELETE ON record
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
"""

#: The columns a record is found by; each repeats a value of the body (verify checks them).
INDEX_COLUMNS = ("kind", "start", "line", "sku", "order_id", "revision")


def canonical(value: dict) -> str:
    """The one JSON text of ``value`` that is hashed (NaN/inf refused: JSON has none)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def chain_hash(prev_hash: str, body: str) -> str:
    """SHA-256 (hex) of the previous record's hash, a newline and this record's body."""
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def index_values(entry: dict) -> tuple:
    """The index columns' values as the entry (or a record body) holds them."""
    w = entry["window"]
    return (w["kind"], w["start"], entry["line"], entry["sku"], entry["order_id"],
            entry["revision"])


@dataclass(frozen=True)
class Record:
    """One stored record as read back: columns, the body text and its parsed JSON."""

    seq: int
    kind: str
    start: int
    line: str
    sku: str
    order_id: str
    revision: int
    body_text: str
    prev_hash: str
    hash: str

    @property
    def body(self) -> dict:
        return json.loads(self.body_text)

    def where(self) -> str:
        """The record as a person names it: number, window, line, SKU, revision."""
        from .trail import utc

        order = f" order {self.order_id}" if self.order_id else ""
        return (f"record {self.seq} ({self.kind} window {utc(self.start)}, line {self.line}, "
                f"SKU {self.sku}{order}, revision {self.revision})")


def connect(path: str | Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection to a ledger file; read-only ones never create or change it."""
    if readonly:
        if not Path(path).exists():
            raise FileNotFoundError(f"no audit ledger at {path}")
        return sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # WAL: a commit per engine step costs no fsync (it syncs at checkpoints); a crash can
    # lose only the last steps' records, which the restarted run records again
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    return db


class Ledger:
    """Appends entries to a ledger file; reads records back."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self._db = connect(path, readonly)

    def append(self, entries: list[dict]) -> int:
        """Record ``entries`` in order, in one transaction; returns how many were new."""
        if not entries:
            return 0
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # one writer at a time: workers may share a state dir
        try:
            head = db.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
            seq, prev = head if head else (0, GENESIS)
            added = 0
            recorded_at = time.time_ns() // NS_PER_S * NS_PER_S
            for entry in entries:
                digest = hashlib.sha256(canonical(entry).encode()).hexdigest()
                keys = index_values(entry)
                if db.execute("SELECT 1 FROM record WHERE kind = ? AND start = ? AND line = ? "
                              "AND sku = ? AND order_id = ? AND revision = ? AND digest = ?",
                              (*keys, digest)).fetchone():
                    continue  # the same window revision again (a restart's replayed log)
                seq += 1
                body = canonical({**entry, "seq": seq, "recorded_at": recorded_at})
                hashed = chain_hash(prev, body)
                db.execute("INSERT INTO record VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (seq, *keys, digest, body, prev, hashed))
                prev = hashed
                added += 1
            db.execute("INSERT OR REPLACE INTO head VALUES (1, ?, ?)", (seq, prev))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return added

    def records(self) -> Iterator[Record]:
        """Every record in record-number order."""
        yield from self._select("", ())

    def head(self) -> tuple[int, str] | None:
        """The last record number and hash the ledger says it has."""
        return self._db.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()

    def find(self, line: str, kind: str, t: int, sku: str | None = None) -> list[Record]:
        """Records of ``line``'s ``kind`` windows holding ``t`` (ns), every revision, oldest
        first (a window starting at or before ``t`` whose body says it ends after it)."""
        latest = ("WHERE line = ? AND kind = ? AND start = (SELECT MAX(start) FROM record "
                  "WHERE line = ? AND kind = ? AND start <= ?)")
        return [r for r in self._select(latest, (line, kind, line, kind, t))
                if t < r.body["window"]["end"] and (sku is None or r.sku == sku)]

    def _select(self, where: str, args: tuple) -> Iterator[Record]:
        cursor = self._db.execute(
            f"SELECT seq, {', '.join(INDEX_COLUMNS)}, body, prev_hash, hash FROM record "
            f"{where} ORDER BY seq", args)
        for row in cursor:
            yield Record(*row)

    def close(self) -> None:
        self._db.close()
