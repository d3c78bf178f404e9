"""The audit trail from the command line, as an auditor meets it: a simulated plant replayed
with ``replay --ledger``, then ``audit verify`` and ``audit explain`` on what it recorded."""

from __future__ import annotations

from click.testing import CliRunner

from carbonline.cli import main


def test_replay_records_a_ledger_that_verifies_and_explains_its_windows(tmp_path):
    runner = CliRunner()
    readings, plant, ledger = tmp_path / "plant.lp", tmp_path / "plant.toml", tmp_path / "l.sqlite"
    done = runner.invoke(main, ["simulate", "--scenario", "normal-week", "--duration", "30m",
                                "--lines", "1", "--output", str(readings),
                                "--write-config", str(plant)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(main, ["replay", "--config", str(plant), "--input", str(readings),
                                "--output", str(tmp_path / "out.lp"), "--ledger", str(ledger)])
    assert done.exit_code == 0, done.output
    verify = runner.invoke(main, ["audit", "verify", "--ledger", str(ledger)])
    assert verify.exit_code == 0, verify.output
    assert "intact" in verify.output
    explain = runner.invoke(main, ["audit", "explain", "--ledger", str(ledger), "--line", "line1",
                                   "--window", "2026-03-02T06:20:00Z", "--kind", "1m"])
    assert explain.exit_code == 0, explain.output
    assert "filler1" in explain.output and "DIFFERENT" not in explain.output
