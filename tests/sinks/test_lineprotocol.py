"""The line-protocol sink writes the series contract (design brief §3), byte for byte what
influxdb-client's ``Point`` writes, and every number reads back exactly."""

from __future__ import annotations

import io
import sys
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision
from line_protocol_parser import parse_line

from carbonline.records import IntensityRow, MachineRow, Window
from carbonline.sinks.lineprotocol import LineProtocolSink, carbonline_sinks, to_line_protocol

S = 1_000_000_000
WINDOW = Window("15m", 1_772_409_600 * S, 1_772_410_500 * S)  # 2026-03-02 00:00–00:15 UTC


def intensity(**changes) -> IntensityRow:
    row = IntensityRow(
        site="bremen", line="line 1", sku="cola,0.5l", shift="early", window=WINDOW,
        electricity_kwh=10.1, fuel_kwh=2.0, scope1_co2e_kg=0.4, scope2_location_co2e_kg=3.838,
        scope2_market_co2e_kg=1.0, good_units=120.0, grid_factor_kg_per_kwh=0.38,
        coverage_pct=99.5, revision=2,
    )
    for key, value in changes.items():
        setattr(row, key, value)
    return row


def machine(**changes) -> MachineRow:
    row = MachineRow(site="bremen", line="line 1", machine="compressor", sku="cola,0.5l",
                     window=WINDOW, energy_kwh=3.3, co2e_kg=1.254, good_units=120.0,
                     allocated_share=0.25)
    for key, value in changes.items():
        setattr(row, key, value)
    return row


def written(tmp_path, rows) -> list[dict]:
    path = tmp_path / "out.lp"
    sink = LineProtocolSink(str(path))
    sink.write(rows)
    sink.close()
    return [parse_line(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_intensity_row_reads_back_with_every_field(tmp_path):
    (point,) = written(tmp_path, [intensity()])
    assert point["measurement"] == "carbon_intensity"
    # tag values with a space and a comma are escaped and come back as they were
    assert point["tags"] == {"site": "bremen", "line": "line 1", "sku": "cola,0.5l",
                             "shift": "early", "window": "15m"}
    assert point["time"] == WINDOW.start
    co2e = 0.4 + 3.838  # Scope 1 + Scope 2 location-based
    assert point["fields"] == {
        "electricity_kwh": 10.1, "fuel_kwh": 2.0, "energy_kwh": 10.1 + 2.0,
        "scope1_co2e_kg": 0.4, "scope2_location_co2e_kg": 3.838, "scope2_market_co2e_kg": 1.0,
        "co2e_kg": co2e, "good_units": 120.0, "co2e_per_unit_kg": co2e / 120.0,
        "carbon_efficiency_units_per_kg": 120.0 / co2e, "grid_factor_kg_per_kwh": 0.38,
        "coverage_pct": 99.5, "revision": 2,
    }
    assert isinstance(point["fields"]["revision"], int)
    assert all(isinstance(v, float) for k, v in point["fields"].items() if k != "revision")


def test_ratios_are_left_out_when_undefined(tmp_path):
    no_units, no_emissions = written(tmp_path, [
        intensity(good_units=0.0),
        intensity(scope1_co2e_kg=0.0, scope2_location_co2e_kg=0.0),
    ])
    assert "co2e_per_unit_kg" not in no_units["fields"]
    assert no_units["fields"]["carbon_efficiency_units_per_kg"] == 0.0
    assert no_units["fields"]["good_units"] == 0.0
    assert "carbon_efficiency_units_per_kg" not in no_emissions["fields"]
    assert no_emissions["fields"]["co2e_per_unit_kg"] == 0.0


def test_order_rows_are_carbon_order_with_end_time(tmp_path):
    start = WINDOW.start
    whole = intensity(window=Window("order", start, start + 5400 * S), order_id="PO-42")
    fraction = intensity(window=Window("order", start, start + 5400 * S + 250_000_000),
                         order_id="PO-43")
    first, second = written(tmp_path, [whole, fraction])
    assert first["measurement"] == "carbon_order" and first["time"] == start
    assert first["tags"] == {"site": "bremen", "line": "line 1", "sku": "cola,0.5l",
                             "order_id": "PO-42"}
    assert first["fields"]["end_time"] == "2026-03-02T01:30:00Z"
    assert second["fields"]["end_time"] == "2026-03-02T01:30:00.25Z"
    assert first["fields"]["co2e_kg"] == 0.4 + 3.838 and first["fields"]["revision"] == 2


def test_machine_row(tmp_path):
    with_units, without = written(tmp_path, [machine(), machine(good_units=0.0, revision=3)])
    assert with_units["measurement"] == "carbon_machine"
    assert with_units["tags"] == {"site": "bremen", "line": "line 1", "machine": "compressor",
                                  "sku": "cola,0.5l", "window": "15m"}
    assert with_units["fields"] == {"energy_kwh": 3.3, "co2e_kg": 1.254, "good_units": 120.0,
                                    "energy_per_unit_kwh": 3.3 / 120.0,
                                    "allocated_share": 0.25, "revision": 1}
    assert without["fields"] == {"energy_kwh": 3.3, "co2e_kg": 1.254, "good_units": 0.0,
                                 "allocated_share": 0.25, "revision": 3}


def test_integers_in_float_fields_stay_float_fields(tmp_path):
    # an InfluxDB field keeps its first type: 120 written as 120i would refuse 120.5 later
    (point,) = written(tmp_path, [intensity(good_units=120, coverage_pct=100, fuel_kwh=0)])
    assert "good_units=120," in to_line_protocol(intensity(good_units=120))
    assert isinstance(point["fields"]["good_units"], float)
    assert isinstance(point["fields"]["coverage_pct"], float)


def test_rows_keep_their_order_and_empty_tags_are_left_out(tmp_path):
    rows = [intensity(revision=r, sku="" if r == 2 else "cola") for r in (1, 2, 3)]
    points = written(tmp_path, rows)
    assert [p["fields"]["revision"] for p in points] == [1, 2, 3]
    assert "sku" not in points[1]["tags"]


def test_stdout_and_the_hook(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    (sink,) = carbonline_sinks(plant=None, outputs=["http://influx:8086/db", "-"])
    sink.write([machine()])
    sink.close()
    assert parse_line(out.getvalue())["measurement"] == "carbon_machine"
    assert not out.closed


# --- byte for byte what influxdb-client writes, every float exact ------------------------------


def reference(row: IntensityRow | MachineRow) -> str:
    """The same point built field by field with influxdb-client, per design brief §3."""
    if isinstance(row, MachineRow):
        point = (Point("carbon_machine").tag("site", row.site).tag("line", row.line)
                 .tag("machine", row.machine).tag("sku", row.sku).tag("window", row.window.kind)
                 .field("energy_kwh", float(row.energy_kwh)).field("co2e_kg", float(row.co2e_kg))
                 .field("good_units", float(row.good_units))
                 .field("allocated_share", float(row.allocated_share)))
        if row.energy_per_unit_kwh is not None:
            point.field("energy_per_unit_kwh", row.energy_per_unit_kwh)
    else:
        order = row.window.kind == "order"
        point = Point("carbon_order" if order else "carbon_intensity").tag("site", row.site)
        point.tag("line", row.line).tag("sku", row.sku)
        if order:
            point.tag("order_id", row.order_id)
        else:
            point.tag("shift", row.shift).tag("window", row.window.kind)
        for name in ("electricity_kwh", "fuel_kwh", "energy_kwh", "scope1_co2e_kg",
                     "scope2_location_co2e_kg", "scope2_market_co2e_kg", "co2e_kg",
                     "good_units", "co2e_per_unit_kg", "carbon_efficiency_units_per_kg",
                     "grid_factor_kg_per_kwh", "coverage_pct"):
            if getattr(row, name) is not None:
                point.field(name, float(getattr(row, name)))
        if order:  # the strategy below ends windows on whole seconds
            end = datetime.fromtimestamp(row.window.end // S, timezone.utc)
            point.field("end_time", end.isoformat().replace("+00:00", "Z"))
    return point.field("revision", row.revision).time(row.window.start,
                                                      WritePrecision.NS).to_line_protocol()


NUMBER = st.floats(allow_nan=False, allow_infinity=False)
TAG = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)


@st.composite
def rows(draw) -> IntensityRow | MachineRow:
    """Any row: odd tag text, any finite numbers (sums and ratios may overflow to ±inf)."""
    start = draw(st.integers(0, 2**62))
    kind = draw(st.sampled_from(["1m", "15m", "shift", "day", "order"]))
    window = Window(kind, start, (start // S + draw(st.integers(1, 10**7))) * S)
    if draw(st.booleans()):
        return MachineRow(draw(TAG), draw(TAG), draw(TAG), draw(TAG), window, draw(NUMBER),
                          draw(NUMBER), draw(NUMBER), draw(NUMBER), draw(st.integers(1, 99)))
    return IntensityRow(draw(TAG), draw(TAG), draw(TAG), draw(TAG), window,
                        *(draw(NUMBER) for _ in range(8)), order_id=draw(TAG),
                        revision=draw(st.integers(1, 99)))


@given(rows())
def test_text_is_what_influxdb_client_writes(row):
    assert to_line_protocol(row) == reference(row)


#: line_protocol_parser refuses subnormal numbers (its strtod reports a range error), so the
#: magnitudes stay where a quotient of two of them (energy per unit) cannot become one
PLAIN = st.floats(allow_nan=False, allow_infinity=False).filter(
    lambda x: x == 0 or 1e-150 < abs(x) < 1e150)


@given(st.lists(PLAIN, min_size=4, max_size=4))
def test_every_float_reads_back_exactly(values):
    row = machine(energy_kwh=values[0], co2e_kg=values[1], good_units=abs(values[2]),
                  allocated_share=values[3], revision=1)
    fields = parse_line(to_line_protocol(row))["fields"]
    assert [fields["energy_kwh"], fields["co2e_kg"], fields["good_units"],
            fields["allocated_share"]] == [values[0], values[1], abs(values[2]), values[3]]
