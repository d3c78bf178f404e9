"""Discovery on a real InfluxDB 1.6, and the draft it makes."""

from __future__ import annotations

import tomllib

from click.testing import CliRunner

from carbonline.cli import main
from carbonline.config import parse_config
from carbonline.discover.draft import draft_config
from carbonline.discover.influx import browse_influx

T0 = 1_772_431_200 * 10**9
MINUTE = 60 * 10**9


def test_browse_lists_series_fields_tags_and_samples(influxdb, influx_db):
    influxdb.write(influx_db, "\n".join(
        [f"power,machine=press,unit=kW value={40 + i % 3} {T0 + i * MINUTE}" for i in range(6)]
        + [f"energy,machine=filler total_kwh={100 + 2.5 * i} {T0 + i * MINUTE}"
           for i in range(6)]
        + [f"production,line=1,recipe=cola good={10 * i}i,order_no=\"A-{i // 3}\" "
           f"{T0 + i * MINUTE}" for i in range(6)]))
    found = browse_influx(influxdb.url, influx_db, samples=4)
    by_where = {f.where: f for f in found}
    press = by_where[f"{influx_db}.power{{machine=press,unit=kW}}.value"]
    assert press.mapping == {"influx": {"measurement": "power", "field": "value",
                                        "tags": {"machine": "press", "unit": "kW"}}}
    assert press.unit == "kW" and press.samples == [42.0, 40.0, 41.0, 42.0]
    energy = by_where[f"{influx_db}.energy{{machine=filler}}.total_kwh"]
    assert energy.samples == [105.0, 107.5, 110.0, 112.5]  # oldest first
    order = by_where[f"{influx_db}.production{{line=1,recipe=cola}}.order_no"]
    assert order.samples == ["A-0", "A-1", "A-1", "A-1"]
    recipe = by_where[f"{influx_db}.production tag recipe"]
    assert recipe.mapping == {"influx": {"measurement": "production", "tag": "recipe"}}
    assert recipe.samples == ["cola"]

    text = draft_config(found, "s", "UTC", "DE",
                        {"influx": {"url": influxdb.url, "database": influx_db}})
    roles = {m.id: m.role for m in parse_config(tomllib.loads(text)).meters}
    assert roles["power_press_value"] == "power"
    assert roles["energy_filler_total_kwh"] == "energy_counter"
    assert roles["production_1_cola_good"] == "units_counter"
    assert roles["production_1_cola_order_no"] == "order"
    assert roles["production_recipe"] == "sku"


def test_discover_command_on_influx_writes_a_checked_draft(influxdb, influx_db, tmp_path):
    influxdb.write(influx_db, "\n".join(
        f"energy,machine=filler kwh={100 + i} {T0 + i * MINUTE}" for i in range(3)))
    draft = tmp_path / "plant.toml"
    runner = CliRunner()
    result = runner.invoke(main, ["discover", "--influx", influxdb.url, "--database", influx_db,
                                  "--write", str(draft)])
    assert result.exit_code == 0, result.output
    checked = runner.invoke(main, ["check-config", str(draft)])
    assert checked.exit_code == 0, checked.output
    config = parse_config(tomllib.loads(draft.read_text()))
    assert config.sources.influx.database == influx_db and config.sources.influx.mode == "poll"
    failed = runner.invoke(main, ["discover", "--influx", "http://127.0.0.1:9"])
    assert failed.exit_code == 1 and "discovery failed" in failed.output
