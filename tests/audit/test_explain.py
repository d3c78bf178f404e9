"""``audit explain`` traces a window to its meters, factors and formula, and its recomputed
number is the row's; a record whose terms were changed does not recompute to its result."""

from __future__ import annotations

import re
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from carbonline.audit.cli import audit
from carbonline.audit.trail import utc

from .conftest import START, Replayed

MINUTE = 60_000_000_000


def _row(simulated_day: Replayed, line: str, kind: str, at: int):
    (row,) = [r for r in simulated_day.intensity if r.line == line and r.window.kind == kind
              and r.window.start <= at < r.window.end][:1]
    return row


def _recomputed(output: str, field: str) -> float:
    match = re.search(rf"^  {field}\s+stored\s+(\S+)\s+recomputed\s+(\S+)\s+(\w+)$", output, re.M)
    assert match, output
    assert match.group(3) == "equal", match.group(0)
    return float(match.group(2))


def _explain(path, row, *extra: str):
    moment = utc(row.window.start + MINUTE // 2)
    return CliRunner().invoke(audit, ["explain", "--ledger", str(path), "--line", row.line,
                                      "--window", moment, "--kind", row.window.kind,
                                      "--sku", row.sku, *extra])


@pytest.mark.parametrize("kind", ["15m", "1m", "shift"])
def test_explain_names_meters_and_factors_and_recomputes_the_row(simulated_day: Replayed, kind):
    row = _row(simulated_day, "line3", kind, START + 187 * MINUTE)
    result = _explain(simulated_day.ledger, row)
    assert result.exit_code == 0, result.output
    out = result.output
    for meter in ("filler3-energy", "capper3-kw", "oven3-gas", "chiller-kw", "site-main",
                  "line3-good"):
        assert meter in out
    assert "grid series" in out and "grid.csv" in out  # the factor dataset
    assert "plant.toml [fuels.natural_gas]" in out  # the fuel factor's source
    assert "key units" in out  # the chiller's allocation key
    assert _recomputed(out, "co2e_kg") == pytest.approx(row.co2e_kg, rel=1e-8)
    assert _recomputed(out, "scope1_co2e_kg") == pytest.approx(row.scope1_co2e_kg, rel=1e-8)
    assert _recomputed(out, "co2e_per_unit_kg") == pytest.approx(row.co2e_per_unit_kg, rel=1e-8)
    assert row.scope1_co2e_kg > 0 and "equals its recomputation" in out


def test_a_record_with_changed_terms_does_not_recompute(simulated_day: Replayed, tmp_path):
    row = _row(simulated_day, "line2", "15m", START + 95 * MINUTE)
    copy = tmp_path / "ledger.sqlite"
    shutil.copyfile(simulated_day.ledger, copy)
    db = sqlite3.connect(copy)
    db.execute("DROP TRIGGER record_no_update")
    seq, body = db.execute("SELECT seq, body FROM record WHERE kind = '15m' AND line = ? AND "
                           "start = ? AND sku = ?", (row.line, row.window.start, row.sku)
                           ).fetchone()
    doubled = body.replace('"location_kg_per_kwh":', '"location_kg_per_kwh":2*', 1)
    doubled = re.sub(r'"location_kg_per_kwh":2\*([0-9.e-]+)',
                     lambda m: f'"location_kg_per_kwh":{2 * float(m.group(1))!r}', doubled)
    assert doubled != body
    db.execute("UPDATE record SET body = ? WHERE seq = ?", (doubled, seq))
    db.commit()
    db.close()
    result = _explain(copy, row)
    assert result.exit_code == 1
    assert re.search(r"scope2_location_co2e_kg\s+stored.*DIFFERENT", result.output)
    assert "does NOT equal" in result.output


def test_explain_says_when_there_is_no_such_window(simulated_day: Replayed):
    result = CliRunner().invoke(audit, ["explain", "--ledger", str(simulated_day.ledger),
                                        "--line", "line9", "--window", "2026-03-02T07:00:00Z"])
    assert result.exit_code != 0 and "no 1m window of line line9" in result.output
