"""``carbonline audit verify``: walk the hash chain and name every record that does not hold.

For each record in record-number order it checks that the number follows the last one (a gap
is a removed record), that the body's own ``seq`` is its number (a record moved elsewhere),
that its hash is SHA-256 of the previous hash and its body (an edited body), that its link to
the previous record is that record's hash (a removed, inserted or reordered record, or a
previous record rewritten with a recomputed hash), and that the index columns say what the
body says (a record made to answer for another window). Finally the ``head`` must be the last
record (records cut off the end). A file SQLite cannot read is a problem too, never a crash.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .ledger import GENESIS, Ledger, Record, chain_hash, index_values


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with the record it concerns (``None``: the file as a whole)."""

    seq: int | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Verdict:
    """What verify found: records checked, the head hash to compare, and the problems."""

    records: int
    head_hash: str
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: str | Path) -> Verdict:
    """Check every record of the ledger at ``path``."""
    problems: list[Problem] = []
    checked = 0
    last: Record | None = None
    try:
        ledger = Ledger(path, readonly=True)
        try:
            for record in ledger.records():
                checked += 1
                problems.extend(_check(record, last))
                last = record
            head = ledger.head()
        finally:
            ledger.close()
    except sqlite3.DatabaseError as exc:
        where = f" after {last.where()}" if last else ""
        problems.append(Problem(None, f"the ledger file cannot be read{where}: {exc}"))
        return Verdict(checked, "", problems)
    last_seq, last_hash = (last.seq, last.hash) if last else (0, GENESIS)
    if head is None and last is not None:
        problems.append(Problem(None, "the ledger's head is missing"))
    elif head is not None and tuple(head) != (last_seq, last_hash):
        if head[0] > last_seq:
            cut = (f"record {head[0]} was" if head[0] == last_seq + 1
                   else f"records {last_seq + 1}–{head[0]} were")
            problems.append(Problem(last_seq + 1, f"{cut} removed from the end (the head says "
                                                  f"{head[0]} records, the last is {last_seq})"))
        else:
            problems.append(Problem(last_seq, f"the head ({head[0]}, {head[1][:12]}…) does not "
                                              f"match the last record, {last_seq}"))
    return Verdict(checked, last_hash, problems)


def _check(record: Record, previous: Record | None) -> list[Problem]:
    found = []
    expected_seq = previous.seq + 1 if previous else 1
    expected_prev = previous.hash if previous else GENESIS
    name = record.where()
    gap = record.seq != expected_seq
    if gap:
        after = previous.where() if previous else "the start"
        missing = (f"record {expected_seq}" if record.seq == expected_seq + 1
                   else f"records {expected_seq}–{record.seq - 1}")
        found.append(Problem(expected_seq, f"{missing} removed: nothing between {after} and "
                                           f"{name}"))
    if chain_hash(record.prev_hash, record.body_text) != record.hash:
        found.append(Problem(record.seq, f"{name}: content altered (its hash does not match)"))
    try:
        body = json.loads(record.body_text)
    except ValueError:
        found.append(Problem(record.seq, f"{name}: the body is not readable JSON"))
        body = None
    if body is not None:
        if body.get("seq") != record.seq:
            found.append(Problem(record.seq, f"{name}: holds record {body.get('seq')}'s body "
                                             "(records reordered or renumbered)"))
        try:
            claims = index_values(body)
        except (KeyError, TypeError):
            claims = None
        columns = (record.kind, record.start, record.line, record.sku, record.order_id,
                   record.revision)
        if claims != columns:
            found.append(Problem(record.seq, f"{name}: its index columns do not match its body "
                                             f"({claims})"))
    if record.prev_hash != expected_prev and not gap:
        before = previous.where() if previous else "the start of the chain"
        found.append(Problem(record.seq, f"{name}: its link to {before} is broken (that "
                                         "record was altered, or records were reordered or "
                                         "inserted)"))
    return found
