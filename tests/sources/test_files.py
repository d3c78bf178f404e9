"""The file source: line protocol and CSV mapped to meters by plant.toml, bad lines counted."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonline.config import parse_config
from carbonline.plant import build_plant
from carbonline.records import NS_PER_S, Reason
from carbonline.sources.files import CsvFile, LineProtocolFile, carbonline_sources

PLANT = build_plant(parse_config({
    "site": {"name": "t", "timezone": "Europe/Berlin", "grid_zone": "DE"},
    "factors": {"grid_kg_per_kwh": 0.4},
    "lines": [{"id": "l1"}],
    "machines": [{"id": "filler", "line": "l1"}, {"id": "press", "line": "l1"}],
    "meters": [
        {"id": "filler-kw", "role": "power", "machine": "filler", "unit": "kW",
         "influx": {"measurement": "power", "field": "kw", "tags": {"machine": "filler"}},
         "csv": {"column": "filler_kw"}},
        {"id": "press-kwh", "role": "energy_counter", "machine": "press", "unit": "kWh",
         "influx": {"measurement": "power", "field": "kwh", "tags": {"machine": "press"}},
         "csv": {"column": "press_kwh"}},
        {"id": "good", "role": "units_counter", "line": "l1",
         "influx": {"measurement": "counts", "field": "good", "tags": {"line": "1"}}},
        {"id": "recipe", "role": "sku", "line": "l1",
         "influx": {"measurement": "counts", "tag": "recipe", "tags": {"line": "1"}}},
        {"id": "order", "role": "order", "line": "l1",
         "influx": {"measurement": "mes", "field": "order"}},
    ],
}))
IX = PLANT.meter_index


def read_all(source) -> tuple[list[tuple[str, int, float]], list, list]:
    readings, context, rejections = [], [], []
    for batch in source.read():
        readings += [(PLANT.meters[m].id, int(t), float(v)) for m, t, v in batch.readings]
        context += batch.context
        rejections += batch.rejections
    return readings, context, rejections


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def test_line_protocol_maps_points_to_meters(tmp_path):
    path = write(tmp_path, "in.lp", "\n".join([
        "# a comment, then a blank line",
        "",
        "power,machine=filler kw=12.5 1000",
        "power,machine=press kwh=100i,other=3 2000",  # integer field; unmapped field ignored
        "counts,line=1,recipe=cola good=10u 3000",  # a unit counter and the SKU tag
        "counts,line=1,recipe=cola good=11 4000",  # same SKU: no new context event
        'mes order="PO-7" 5000',  # text field → order context, through the slow path
        r"power,machine=filler,note=a\ b kw=13 6000",  # escaped tag: slow path
    ]))
    readings, context, rejections = read_all(LineProtocolFile(PLANT, path))
    assert readings == [("filler-kw", 1000, 12.5), ("press-kwh", 2000, 100.0),
                        ("good", 3000, 10.0), ("good", 4000, 11.0), ("filler-kw", 6000, 13.0)]
    assert [(PLANT.meters[c.meter].id, c.time, c.text) for c in context] == [
        ("recipe", 3000, "cola"), ("order", 5000, "PO-7")]
    assert rejections == []


def test_line_protocol_rejections_name_line_and_reason(tmp_path):
    path = write(tmp_path, "bad.lp", "\n".join([
        "power,machine=filler kw=1 1000",
        "power,machine=filler kw=2",  # 2: no timestamp
        "this is not line protocol at all",  # 3
        "power,machine=mixer kw=3 3000",  # 4: mapped measurement, no meter for these tags
        "weather temp=3 3000",  # 5: nobody maps this measurement
        "power,machine=filler kw=nan 4000",  # 6
        "power,machine=filler kw=true 5000",  # 7: a boolean for a power meter
        "power,machine=filler,unit=W kw=4 6000",  # 8: the point says W, the meter is in kW
        'power,machine=filler kw="12" 7000',  # 9: a string
    ]))
    readings, _, rejections = read_all(LineProtocolFile(PLANT, path))
    assert readings == [("filler-kw", 1000, 1.0)]
    reasons = [(r.reason, r.detail.split(":")[1]) for r in rejections]
    assert reasons == [
        (Reason.MALFORMED, "2"), (Reason.MALFORMED, "3"), (Reason.UNKNOWN_METER, "4"),
        (Reason.UNKNOWN_METER, "5"), (Reason.NOT_A_NUMBER, "6"), (Reason.NOT_A_NUMBER, "7"),
        (Reason.WRONG_UNIT, "8"), (Reason.NOT_A_NUMBER, "9"),
    ]
    assert rejections[2].raw == "power,machine=mixer kw=3 3000"


@settings(max_examples=200, deadline=None)
@given(
    machine=st.sampled_from(["filler", "press"]),
    value=st.floats(-1e12, 1e12, allow_subnormal=False),
    stamp=st.integers(0, 2**62),
    extra=st.sampled_from(["", ",x=1i", ",y=2.5"]),
)
def test_fast_path_agrees_with_line_protocol_parser(tmp_path_factory, machine, value, stamp,
                                                    extra):
    field = "kw" if machine == "filler" else "kwh"
    line = f"power,machine={machine} {field}={value!r}{extra} {stamp}"
    fast = LineProtocolFile(PLANT, write(tmp_path_factory.mktemp("lp"), "a.lp", line))
    readings, _, rejections = read_all(fast)
    assert rejections == []
    # the same point, forced through line_protocol_parser by an escaped (irrelevant) tag
    slow_line = f"power,machine={machine},z=a\\ b {field}={value!r}{extra} {stamp}"
    slow = LineProtocolFile(PLANT, write(tmp_path_factory.mktemp("lp"), "b.lp", slow_line))
    assert read_all(slow)[0] == readings == [(f"{machine}-k{'w' if field == 'kw' else 'wh'}",
                                              stamp, value)]


def test_long_csv(tmp_path):
    path = write(tmp_path, "long.csv", "\n".join([
        "time,meter,value,unit",
        "2026-03-02T10:00:00Z,filler-kw,5.5,kW",
        "2026-03-02T11:00:00,press-kwh,7,kWh",  # naive: Europe/Berlin, CET = UTC+1 → 10:00Z
        "2026-03-02T10:00:00Z,recipe,cola,",
        "2026-03-02T10:00:00Z,filler-kw,5.5,W",  # wrong unit
        "2026-03-02T10:00:00Z,nobody,1,",  # unknown meter
        "2026-03-02T10:00:00Z,filler-kw,,",  # empty
        "yesterday,filler-kw,1,",  # bad time
    ]))
    readings, context, rejections = read_all(CsvFile(PLANT, path))
    ten = int(datetime(2026, 3, 2, 10, tzinfo=timezone.utc).timestamp()) * NS_PER_S
    assert readings == [("filler-kw", ten, 5.5), ("press-kwh", ten, 7.0)]
    assert [(c.meter, c.time, c.text) for c in context] == [(IX["recipe"], ten, "cola")]
    assert [r.reason for r in rejections] == [Reason.WRONG_UNIT, Reason.UNKNOWN_METER,
                                              Reason.NOT_A_NUMBER, Reason.MALFORMED]


def test_wide_csv_with_a_bom_and_the_sites_zone(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_bytes("\ufefftime,filler_kw,press_kwh,ignored\n"
                     "2026-07-01 08:00,3.0,100,x\n2026-07-01 08:01,,101,y\n".encode("utf-8"))
    readings, _, rejections = read_all(CsvFile(PLANT, str(path)))
    eight = int(datetime(2026, 7, 1, 6, tzinfo=timezone.utc).timestamp()) * NS_PER_S  # CEST
    minute = 60 * NS_PER_S
    assert readings == [("filler-kw", eight, 3.0), ("press-kwh", eight, 100.0),
                        ("press-kwh", eight + minute, 101.0)]
    assert [r.reason for r in rejections] == [Reason.NOT_A_NUMBER]


def test_steel_example_rows_and_midnight(tmp_path):
    from carbonline.config import load_config

    steel = build_plant(load_config("examples/steel-plant/plant.toml"))
    source = CsvFile(steel, "examples/steel-plant/steel_industry_daewoo_2018_15min.csv")
    batch = next(iter(source.read()))
    times = batch.readings["time"]
    # "01/01/2018 00:15" in Seoul (UTC+9) is 2017-12-31T15:15Z; 3.17 kWh
    first = int(datetime(2017, 12, 31, 15, 15, tzinfo=timezone.utc).timestamp()) * NS_PER_S
    assert (int(times[0]), float(batch.readings["value"][0])) == (first, 3.17)
    # the 96th row, "01/01/2018 00:00", closes 1 January: 2018-01-02T00:00+09 = 01-01T15:00Z
    assert int(times[95]) == first + 95 * 15 * 60 * NS_PER_S
    assert len(batch.readings) == 35_040 and not batch.rejections


def test_the_plugin_claims_files_by_suffix():
    sources = carbonline_sources(PLANT, ["a.lp", "b.csv", "-", "c.parquet"])
    assert [type(s).__name__ for s in sources] == ["LineProtocolFile", "CsvFile",
                                                   "LineProtocolFile"]
