"""``carbonline backfill``: a past period recomputed from the historian gives the points a
replay of the same readings gives."""

from __future__ import annotations

from click.testing import CliRunner

from carbonline.cli import main
from servers._common import free_ports


def test_backfill_from_influxdb_equals_the_file_replay(influxdb, influx_db, tmp_path):
    runner = CliRunner()
    raw = tmp_path / "raw.lp"
    config = tmp_path / "plant.toml"
    made = runner.invoke(main, [
        "simulate", "--scenario", "valve-leak", "--duration", "90m", "--lines", "2",
        "--machines", "3", "--start", "2026-03-02T08:00:00Z", "--output", str(raw),
        "--influx", f"{influxdb.url}?db={influx_db}", "--write-config", str(config)])
    assert made.exit_code == 0, made.output
    with config.open("a") as f:
        f.write(f'\n[sources.influx]\nurl = "{influxdb.url}"\ndatabase = "{influx_db}"\n')
    replayed = tmp_path / "replayed.lp"
    done = runner.invoke(main, ["replay", "--config", str(config), "--input", str(raw),
                                "--output", str(replayed), "--no-progress"])
    assert done.exit_code == 0, done.output
    backfilled = tmp_path / "backfilled.lp"
    filled = runner.invoke(main, ["backfill", "--config", str(config), "--from",
                                  "2026-03-02T08:00:00Z", "--to", "2026-03-02T09:31:00Z",
                                  "--output", str(backfilled)])
    assert filled.exit_code == 0, filled.output
    assert "rejected" not in filled.output
    carbon = [sorted(path.read_text().splitlines()) for path in (replayed, backfilled)]
    assert carbon[0] and carbon[0] == carbon[1]  # the same points, byte for byte

    missing = runner.invoke(main, ["backfill", "--config", str(config), "--from",
                                   "2026-03-02T09:00:00Z", "--to", "2026-03-02T08:00:00Z",
                                   "--output", str(backfilled)])
    assert missing.exit_code == 2 and "--to must be after --from" in missing.output


def test_a_backfill_that_cannot_read_stops_instead_of_writing_holes(tmp_path):
    runner = CliRunner()
    config = tmp_path / "plant.toml"
    made = runner.invoke(main, ["simulate", "--duration", "10m", "--output",
                                str(tmp_path / "x.lp"), "--write-config", str(config)])
    assert made.exit_code == 0, made.output
    (port,) = free_ports(1)
    with config.open("a") as f:
        f.write(f'\n[sources.influx]\nurl = "http://127.0.0.1:{port}"\ndatabase = "plant"\n')
    failed = runner.invoke(main, ["backfill", "--config", str(config), "--from",
                                  "2026-03-02T06:00:00Z", "--to", "2026-03-02T07:00:00Z",
                                  "--output", str(tmp_path / "out.lp")])
    assert failed.exit_code == 1 and "backfill stopped" in failed.output
