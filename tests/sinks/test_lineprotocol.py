"""The line-protocol sink writes the series contract and every number reads back exactly."""

from __future__ import annotations

from line_protocol_parser import parse_line

from carbonline.records import IntensityRow, MachineRow, Window
from carbonline.sinks.lineprotocol import LineProtocolSink, carbonline_sinks

S = 1_000_000_000
WINDOW = Window("15m", 1_772_409_600 * S, 1_772_410_500 * S)


def intensity(**changes) -> IntensityRow:
    row = IntensityRow(
        site="bremen", line="line 1", sku="cola,0.5l", shift="early", window=WINDOW,
        electricity_kwh=10.1, fuel_kwh=2.0, scope1_co2e_kg=0.4, scope2_location_co2e_kg=3.8380000000000001,
        scope2_market_co2e_kg=1.0, good_units=120.0, grid_factor_kg_per_kwh=0.38,
        coverage_pct=99.5, revision=2,
    )
    for key, value in changes.items():
        setattr(row, key, value)
    return row


def written(tmp_path, rows) -> list[dict]:
    path = tmp_path / "out.lp"
    sink = LineProtocolSink(str(path))
    sink.write(rows)
    sink.close()
    return [parse_line(line) for line in path.read_text().splitlines()]


def test_intensity_row_round_trips(tmp_path):
    (point,) = written(tmp_path, [intensity()])
    assert point["measurement"] == "carbon_intensity"
    # tag values with a space and a comma are escaped and come back as they were
    assert point["tags"] == {"site": "bremen", "line": "line 1", "sku": "cola,0.5l",
                             "shift": "early", "window": "15m"}
    assert point["time"] == WINDOW.start
    fields = point["fields"]
    assert fields["electricity_kwh"] == 10.1 and fields["energy_kwh"] == 10.1 + 2.0
    assert fields["co2e_kg"] == 0.4 + 3.8380000000000001  # Scope 1 + Scope 2 location-based
    assert fields["co2e_per_unit_kg"] == (0.4 + 3.8380000000000001) / 120.0
    assert fields["carbon_efficiency_units_per_kg"] == 120.0 / (0.4 + 3.8380000000000001)
    assert fields["revision"] == 2 and isinstance(fields["revision"], int)
    assert fields["coverage_pct"] == 99.5 and fields["grid_factor_kg_per_kwh"] == 0.38


def test_per_unit_fields_are_omitted_without_units(tmp_path):
    (point,) = written(tmp_path, [intensity(good_units=0.0)])
    assert "co2e_per_unit_kg" not in point["fields"]
    assert point["fields"]["good_units"] == 0


def test_order_rows_are_carbon_order_with_end_time(tmp_path):
    row = intensity(window=Window("order", WINDOW.start, WINDOW.start + 5400 * S),
                    order_id="PO-42")
    (point,) = written(tmp_path, [row])
    assert point["measurement"] == "carbon_order"
    assert point["tags"] == {"site": "bremen", "line": "line 1", "sku": "cola,0.5l",
                             "order_id": "PO-42"}
    assert point["fields"]["end_time"] == "2026-03-02T01:30:00Z"


def test_machine_row(tmp_path):
    row = MachineRow(site="bremen", line="line 1", machine="compressor", sku="cola,0.5l",
                     window=WINDOW, energy_kwh=3.3, co2e_kg=1.254, good_units=0.0,
                     allocated_share=0.25)
    (point,) = written(tmp_path, [row])
    assert point["measurement"] == "carbon_machine"
    assert point["tags"]["machine"] == "compressor" and point["tags"]["window"] == "15m"
    assert point["fields"] == {"energy_kwh": 3.3, "co2e_kg": 1.254, "good_units": 0.0,
                               "allocated_share": 0.25, "revision": 1}


def test_urls_are_left_to_other_sinks():
    assert [s.name for s in carbonline_sinks(None, ["http://influx:8086", "-"])] == ["-"]
