"""``audit verify`` names every edited, removed or reordered record; the file refuses edits."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonline.audit.cli import audit
from carbonline.audit.ledger import Ledger, chain_hash
from carbonline.audit.verify import verify
from carbonline.simulate.batches import batches

from .conftest import replay_with_ledger, simulated_plant


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """Two simulated hours' ledger (a few hundred records), closed: every record in the file."""
    folder = tmp_path_factory.mktemp("audit-verify")
    plant, signals = simulated_plant(folder, 2.0)
    path = folder / "ledger.sqlite"
    replay_with_ledger(plant, list(batches(plant, signals)), path)
    assert not Path(f"{path}-wal").exists()  # checkpointed into the file on close
    return path


@pytest.fixture
def ledger(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ledger.sqlite"
    shutil.copyfile(pristine, copy)
    return copy


def _records(path: Path) -> list:
    book = Ledger(path, readonly=True)
    try:
        return list(book.records())
    finally:
        book.close()


def _tamper(path: Path, *statements: tuple[str, tuple]) -> None:
    """Change the file as someone with write access could: triggers dropped first."""
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER record_no_update")
    db.execute("DROP TRIGGER record_no_delete")
    for sql, args in statements:
        db.execute(sql, args)
    db.commit()
    db.close()


def _swap_digit(text: str, at: int) -> str:
    return text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1:]


def test_a_pristine_ledger_verifies(ledger: Path):
    verdict = verify(ledger)
    assert verdict.ok, verdict.problems
    records = _records(ledger)
    assert verdict.records == len(records) > 300
    assert verdict.head_hash == records[-1].hash


def test_one_flipped_byte_in_the_file_names_its_record(ledger: Path):
    records = _records(ledger)
    target = next(r for r in records[100:] if r.kind == "1m")
    raw = bytearray(ledger.read_bytes())
    body = target.body_text.encode()
    at = raw.find(body)
    assert at >= 0 and raw.find(body, at + 1) < 0  # the body is stored once, in one page
    digit = at + body.find(b'"co2e_kg":') + len(b'"co2e_kg":') + 2
    raw[digit] = ord(str((int(chr(raw[digit])) + 1) % 10))
    ledger.write_bytes(bytes(raw))
    verdict = verify(ledger)
    assert [p.seq for p in verdict.problems] == [target.seq]
    message = str(verdict.problems[0])
    assert f"record {target.seq} (1m window" in message and f"line {target.line}" in message
    assert "content altered" in message


def test_an_edited_value_names_its_record(ledger: Path):
    target = _records(ledger)[42]
    at = target.body_text.index('"attributed":') + len('"attributed":')
    _tamper(ledger, ("UPDATE record SET body = ? WHERE seq = ?",
                     (_swap_digit(target.body_text, at), target.seq)))
    verdict = verify(ledger)
    assert {p.seq for p in verdict.problems} == {target.seq}


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(ledger: Path):
    records = _records(ledger)
    target, after = records[42], records[43]
    at = target.body_text.index('"attributed":') + len('"attributed":')
    forged = _swap_digit(target.body_text, at)
    _tamper(ledger, ("UPDATE record SET body = ?, hash = ? WHERE seq = ?",
                     (forged, chain_hash(target.prev_hash, forged), target.seq)))
    (problem,) = verify(ledger).problems
    assert problem.seq == after.seq
    assert f"link to record {target.seq} " in str(problem)


def test_a_removed_record_is_named(ledger: Path):
    records = _records(ledger)
    gone = records[77]
    _tamper(ledger, ("DELETE FROM record WHERE seq = ?", (gone.seq,)))
    (problem,) = verify(ledger).problems
    assert problem.seq == gone.seq
    assert f"record {gone.seq} removed" in str(problem)
    assert f"record {gone.seq - 1} (" in str(problem) and f"record {gone.seq + 1} (" in str(problem)


def test_a_record_removed_from_the_end_is_named(ledger: Path):
    last = _records(ledger)[-1]
    _tamper(ledger, ("DELETE FROM record WHERE seq = ?", (last.seq,)))
    (problem,) = verify(ledger).problems
    assert problem.seq == last.seq and "removed from the end" in str(problem)


def test_two_swapped_records_are_named(ledger: Path):
    records = _records(ledger)
    a, b = records[60], records[61]
    columns = "kind = ?, start = ?, line = ?, sku = ?, order_id = ?, revision = ?, body = ?, " \
              "prev_hash = ?, hash = ?"

    def values(r):
        return (r.kind, r.start, r.line, r.sku, r.order_id, r.revision, r.body_text,
                r.prev_hash, r.hash)

    _tamper(ledger, (f"UPDATE record SET {columns} WHERE seq = ?", (*values(b), a.seq)),
            (f"UPDATE record SET {columns} WHERE seq = ?", (*values(a), b.seq)))
    problems = verify(ledger).problems
    named = {p.seq for p in problems}
    assert {a.seq, b.seq} <= named <= {a.seq, b.seq, b.seq + 1}
    assert any("reordered" in str(p) and p.seq == a.seq for p in problems)
    assert any("reordered" in str(p) and p.seq == b.seq for p in problems)


def test_the_file_refuses_updates_and_deletes(ledger: Path):
    db = sqlite3.connect(ledger)
    try:
        for sql in ("UPDATE record SET body = '{}' WHERE seq = 1", "DELETE FROM record"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(sql)
    finally:
        db.close()
    assert verify(ledger).ok


def test_a_damaged_file_is_reported_not_crashed_on(ledger: Path):
    ledger.write_bytes(b"not a database at all" * 100)
    verdict = verify(ledger)
    assert not verdict.ok and "cannot be read" in str(verdict.problems[0])


def test_the_cli_passes_and_fails(ledger: Path):
    runner = CliRunner()
    ok = runner.invoke(audit, ["verify", "--ledger", str(ledger)])
    assert ok.exit_code == 0, ok.output
    assert "chain intact" in ok.output
    state = runner.invoke(audit, ["verify", "--state-dir", str(ledger.parent)])
    assert state.exit_code == 0 and "chain intact" in state.output
    gone = _records(ledger)[10]
    _tamper(ledger, ("DELETE FROM record WHERE seq = ?", (gone.seq,)))
    failed = runner.invoke(audit, ["verify", "--ledger", str(ledger)])
    assert failed.exit_code == 1
    assert f"FAIL record {gone.seq} removed" in failed.output
