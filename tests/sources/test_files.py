"""The file source: line protocol and CSV in, readings, context and counted rejections out.

Every input here is written by hand and every expected time worked out by hand (UTC offsets,
the steel plant's midnight rows), so a misread date or zone shows up as a wrong number.
"""

from __future__ import annotations

import io
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonline.config import load_config, parse_config
from carbonline.plant import PlantModel, build_plant
from carbonline.records import ContextEvent, Reason, ReadingBatch
from carbonline.sources import files
from carbonline.sources.files import CsvFile, LineProtocolFile, carbonline_sources

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "steel-plant"
S = 1_000_000_000
T0 = 1_772_409_600 * S  # 2026-03-02T00:00:00Z


def plant_of(meters: list[dict], timezone_: str = "UTC", **sections) -> PlantModel:
    doc = {
        "site": {"name": "test", "timezone": timezone_, "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5},
        "lines": [{"id": "l1"}],
        "machines": [{"id": "press", "line": "l1"}, {"id": "oven", "line": "l1"}],
        "fuels": {"gas": {"unit": "m3", "ncv_kwh_per_unit": 10.0, "co2e_kg_per_unit": 2.0}},
        "meters": meters,
    }
    doc.update(sections)
    return build_plant(parse_config(doc))


#: Meters the line-protocol tests map: two fields of one series, a counter, context by tag
#: and by string field, a fuel meter whose unit comes from its fuel.
LP_METERS = [
    {"id": "press_kw", "role": "power", "machine": "press", "unit": "kW",
     "influx": {"measurement": "power", "field": "kw", "tags": {"machine": "press"}}},
    {"id": "press_kwh", "role": "energy_counter", "machine": "press", "unit": "kWh",
     "influx": {"measurement": "power", "field": "kwh", "tags": {"machine": "press"}}},
    {"id": "good", "role": "units_counter", "line": "l1",
     "influx": {"measurement": "count", "field": "good", "tags": {"line": "l1"}}},
    {"id": "sku", "role": "sku", "line": "l1",
     "influx": {"measurement": "count", "tag": "recipe", "tags": {"line": "l1"}}},
    {"id": "order", "role": "order", "line": "l1",
     "influx": {"measurement": "mes", "field": "order"}},
    {"id": "gas", "role": "fuel_counter", "machine": "oven", "fuel": "gas",
     "influx": {"measurement": "gas", "field": "total"}},
]


@pytest.fixture
def lp_plant() -> PlantModel:
    return plant_of(LP_METERS)


def read_all(source) -> ReadingBatch:
    """Every batch of a source joined into one."""
    batches = list(source.read())
    return ReadingBatch(
        np.concatenate([b.readings for b in batches]) if batches else np.empty(0),
        [e for b in batches for e in b.context],
        [r for b in batches for r in b.rejections],
    )


def lp(plant: PlantModel, tmp_path: Path, text: str) -> ReadingBatch:
    path = tmp_path / "in.lp"
    path.write_text(text, encoding="utf-8")
    return read_all(LineProtocolFile(plant, str(path)))


def triples(plant: PlantModel, readings: np.ndarray) -> list[tuple[str, int, float]]:
    return [(plant.meters[m].id, int(t), float(v)) for m, t, v in readings.tolist()]


def reasons(batch: ReadingBatch) -> list[Reason]:
    return [r.reason for r in batch.rejections]


def line_numbers(batch: ReadingBatch) -> list[int]:
    """The line number each rejection's detail names (``…/in.csv:12: …``)."""
    return [int(re.search(r"\.(?:lp|csv):(\d+): ", r.detail).group(1)) for r in batch.rejections]


# --- line protocol: mapping -------------------------------------------------------------------


def test_fields_of_a_point_become_readings_of_the_meters_that_map_them(lp_plant, tmp_path):
    got = lp(lp_plant, tmp_path, "\n".join([
        f"power,machine=press kw=12.5,kwh=1000.25,volts=400 {T0}",
        f"power,site=a,machine=press kw=13 {T0 + S}",  # more tags than mapped, in any order
        f"count,line=l1 good=17i {T0 + 2 * S}",
        f"count,line=l1 good=18u {T0 + 3 * S}",
        f"gas total=5.5 {T0 + 4 * S}",
    ]))
    assert triples(lp_plant, got.readings) == [
        ("press_kw", T0, 12.5), ("press_kwh", T0, 1000.25), ("press_kw", T0 + S, 13.0),
        ("good", T0 + 2 * S, 17.0), ("good", T0 + 3 * S, 18.0), ("gas", T0 + 4 * S, 5.5),
    ]
    assert got.context == [] and got.rejections == []


def test_a_point_feeds_every_meter_whose_tags_it_carries(tmp_path):
    def power(meter_id: str, tags: dict) -> dict:
        return {"id": meter_id, "role": "power", "machine": "press", "unit": "kW",
                "influx": {"measurement": "power", "field": "kw", "tags": tags}}

    plant = plant_of([power("any", {}), power("press", {"machine": "press"}),
                      power("press_l1", {"machine": "press", "phase": "L1"}),
                      power("oven", {"machine": "oven"})])
    got = lp(plant, tmp_path, "\n".join([
        f"power,phase=L1,machine=press kw=1 {T0}",
        f"power,machine=press kw=2 {T0 + S}",
        f"power,machine=lathe kw=3 {T0 + 2 * S}",
    ]))
    assert triples(plant, got.readings) == [
        ("any", T0, 1.0), ("press", T0, 1.0), ("press_l1", T0, 1.0),
        ("any", T0 + S, 2.0), ("press", T0 + S, 2.0), ("any", T0 + 2 * S, 3.0)]


def test_sku_tag_is_context_when_it_changes(lp_plant, tmp_path):
    sku = lp_plant.meter_index["sku"]
    got = lp(lp_plant, tmp_path, "\n".join([
        f"count,line=l1,recipe=A good=1i {T0}",
        f"count,line=l1,recipe=A good=2i {T0 + S}",  # same SKU: no event
        f"count,recipe=B,line=l1 good=3i {T0 + 2 * S}",
        f"count,line=l1,recipe=B status=1i {T0 + 3 * S}",  # the tag alone is context
        f"count,line=l2,recipe=C good=4i {T0 + 4 * S}",  # another line's point
    ]))
    assert got.context == [ContextEvent(sku, T0, "A"), ContextEvent(sku, T0 + 2 * S, "B")]
    assert triples(lp_plant, got.readings) == [
        ("good", T0, 1.0), ("good", T0 + S, 2.0), ("good", T0 + 2 * S, 3.0)]
    assert reasons(got) == [Reason.UNKNOWN_METER]
    assert got.rejections[0].detail.endswith(":5: no meter maps these tags and fields")


def test_order_from_a_string_field_and_integers_as_digits(lp_plant, tmp_path):
    order = lp_plant.meter_index["order"]
    got = lp(lp_plant, tmp_path, "\n".join([
        f'mes order="PO 4711, rush" {T0}',
        f'mes order="PO 4711, rush",operator="x" {T0 + S}',
        f"mes order=4712i {T0 + 2 * S}",
    ]))
    assert got.context == [ContextEvent(order, T0, "PO 4711, rush"),
                           ContextEvent(order, T0 + 2 * S, "4712")]


def test_escaped_names_are_read_by_the_parser(tmp_path):
    plant = plant_of([{"id": "m", "role": "power", "machine": "press", "unit": "kW",
                       "influx": {"measurement": "line 1 power",
                                  "field": "kW,total", "tags": {"cell": "a=b"}}}])
    got = lp(plant, tmp_path, rf"line\ 1\ power,cell=a\=b kW\,total=3.25 {T0}")
    assert triples(plant, got.readings) == [("m", T0, 3.25)]


def test_comments_blank_lines_and_crlf_are_fine(lp_plant, tmp_path):
    path = tmp_path / "in.lp"
    path.write_bytes(f"# header\r\n\r\n   \r\npower,machine=press kw=1 {T0}\r\n".encode())
    got = read_all(LineProtocolFile(lp_plant, str(path)))
    assert triples(lp_plant, got.readings) == [("press_kw", T0, 1.0)]
    assert got.rejections == []


# --- line protocol: rejections ----------------------------------------------------------------


def test_every_refused_line_is_counted_with_its_reason_line_number_and_text(lp_plant, tmp_path):
    text = "\n".join([
        f"power,machine=press kw=1 {T0}",                        # 1 fine
        "power,machine=press kw=2",                              # 2 no timestamp
        "this is not line protocol",                             # 3
        f"power,machine=press kw=1.5i {T0}",                     # 4 bad integer
        f"power,machine=press kw=1 {2**64}",                     # 5 time past int64
        f"heat,machine=press celsius=80 {T0}",                   # 6 measurement nobody maps
        f"power,machine=lathe kw=3 {T0}",                        # 7 tags match no meter
        f"power,machine=press amps=3 {T0}",                      # 8 field matches no meter
        f"power,machine=press kw=nan {T0}",                      # 9
        f"power,machine=press kw=-inf {T0}",                     # 10
        f"power,machine=press kw=true {T0}",                     # 11 boolean
        f'power,machine=press kw="12" {T0}',                     # 12 string
        f"power,machine=press,unit=W kw=1200 {T0}",              # 13 unit tag
        f'power,machine=press kw=1.2,unit="MW" {T0}',            # 14 unit field
        f"power,machine=press,unit=kW kw=4,kwh=9 {T0 + S}",      # 15 kW fits kw, not kwh
        f"gas,unit=L total=3 {T0}",                              # 16 gas is metered in m3
        f"gas,unit=m3 total=4 {T0 + S}",                         # 17 fine
    ])
    got = lp(lp_plant, tmp_path, text)
    assert reasons(got) == [
        Reason.MALFORMED, Reason.MALFORMED, Reason.MALFORMED, Reason.MALFORMED,
        Reason.UNKNOWN_METER, Reason.UNKNOWN_METER, Reason.UNKNOWN_METER,
        Reason.NOT_A_NUMBER, Reason.NOT_A_NUMBER, Reason.NOT_A_NUMBER, Reason.NOT_A_NUMBER,
        Reason.WRONG_UNIT, Reason.WRONG_UNIT, Reason.WRONG_UNIT, Reason.WRONG_UNIT,
    ]
    assert line_numbers(got) == list(range(2, 17))
    lines = text.split("\n")
    assert [r.raw for r in got.rejections] == lines[1:16]
    details = [r.detail.split(": ", 1)[1] for r in got.rejections]
    assert details[0] == "no timestamp"
    assert details[4] == "no meter maps this measurement"
    assert details[7] == "field kw=nan for meter press_kw"
    assert details[11] == "meter press_kw is in 'kW', the point says 'W'"
    assert details[14] == "meter gas is in 'm3', the point says 'L'"
    assert triples(lp_plant, got.readings) == [
        ("press_kw", T0, 1.0), ("press_kw", T0 + S, 4.0), ("gas", T0 + S, 4.0)]


def test_raw_text_is_cut_to_200_characters(lp_plant, tmp_path):
    line = "x" * 500
    got = lp(lp_plant, tmp_path, line)
    assert reasons(got) == [Reason.MALFORMED]
    assert got.rejections[0].raw == "x" * files.RAW_CHARS


def test_bytes_that_are_not_utf8_do_not_stop_the_file(lp_plant, tmp_path):
    path = tmp_path / "in.lp"
    path.write_bytes(b"power,machine=pr\xffess kw=1 5\n" + f"power,machine=press kw=2 {T0}\n"
                     .encode())
    got = read_all(LineProtocolFile(lp_plant, str(path)))
    assert reasons(got) == [Reason.UNKNOWN_METER]
    assert "\ufffd" in got.rejections[0].raw
    assert triples(lp_plant, got.readings) == [("press_kw", T0, 2.0)]


# --- line protocol: the fast path agrees with the parser ---------------------------------------

NAME = st.sampled_from(["power", "count", "gas", "kw", "kwh", "good", "machine", "press",
                        "line", "l1", "recipe", "unit", "kW", "W", "total", "x_1"])
ESCAPED = st.sampled_from([r"a\ b", r"c\,d", r"e\=f"])
#: Subnormal floats are left out: line_protocol_parser refuses them (its strtod reports a range
#: error), where the fast path, like InfluxDB itself, reads them.
FLOAT = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)
FIELD_VALUE = st.one_of(
    FLOAT.map(repr), FLOAT.map(lambda x: f"{x:e}"), FLOAT.map(lambda x: f"{x:.3f}"),
    st.integers(-(2**63), 2**63 - 1).map(lambda n: f"{n}i"),
    st.integers(0, 2**64 - 1).map(lambda n: f"{n}u"),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"]),
)


@st.composite
def lp_lines(draw) -> str:
    """A well-formed line: a measurement, tags, 1–4 fields and a timestamp, sometimes with
    escapes (which must leave the fast path)."""
    key = st.one_of(NAME, ESCAPED) if draw(st.booleans()) else NAME
    tags = draw(st.dictionaries(key, key, max_size=3))
    fields = draw(st.dictionaries(key, FIELD_VALUE, min_size=1, max_size=4))
    series = ",".join([draw(NAME), *(f"{k}={v}" for k, v in tags.items())])
    stamp = draw(st.integers(-(2**63) + 2, 2**63 - 2))  # InfluxDB's range
    return f"{series} {','.join(f'{k}={v}' for k, v in fields.items())} {stamp}"


@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(lp_lines(), min_size=1, max_size=8))
def test_fast_path_and_parser_agree_on_well_formed_lines(lp_plant, lines):
    fast, parser = LineProtocolFile(lp_plant, "-"), LineProtocolFile(lp_plant, "-")
    fast._parse([line + "\n" for line in lines], 0)
    for number, line in enumerate(lines, 1):
        parser._slow(line, number)
    a, b = fast._batch(), parser._batch()
    assert a.readings.tolist() == b.readings.tolist()
    assert a.context == b.context
    assert a.rejections == b.rejections
    assert Reason.MALFORMED not in reasons(a)


# --- line protocol: stdin, batches, progress --------------------------------------------------


def test_stdin_is_line_protocol(lp_plant, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(f"power,machine=press kw=7 {T0}\n".encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    (source,) = carbonline_sources(plant=lp_plant, inputs=["-"])
    assert source.size_bytes is None
    assert triples(lp_plant, read_all(source).readings) == [("press_kw", T0, 7.0)]
    assert source.bytes_read > 0
    assert not stdin.buffer.closed


def test_batches_of_lines_and_progress_in_bytes(lp_plant, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BATCH_LINES", 4)
    path = tmp_path / "in.lp"
    path.write_text("".join(f"power,machine=press kw={i} {T0 + i * S}\n" for i in range(10)))
    source = LineProtocolFile(lp_plant, str(path))
    assert source.size_bytes == path.stat().st_size
    sizes, progress = [], []
    for batch in source.read():
        sizes.append(len(batch.readings))
        progress.append(source.bytes_read)
    assert sizes == [4, 4, 2]
    assert progress[-1] == source.size_bytes and progress == sorted(progress)


def test_the_hook_claims_existing_files_by_suffix_and_stdin(lp_plant, tmp_path):
    for name in ("a.lp", "b.txt", "c.LINE", "d.csv", "e.json"):
        (tmp_path / name).write_text("")
    inputs = [str(tmp_path / n) for n in ("a.lp", "b.txt", "c.LINE", "d.csv", "e.json")]
    inputs += [str(tmp_path / "missing.lp"), "-", "mqtt://broker/topic"]
    claimed = carbonline_sources(plant=lp_plant, inputs=inputs)
    assert [(type(s), Path(s.name).name) for s in claimed] == [
        (LineProtocolFile, "a.lp"), (LineProtocolFile, "b.txt"), (LineProtocolFile, "c.LINE"),
        (CsvFile, "d.csv"), (LineProtocolFile, "-"),
    ]


# --- CSV: long shape --------------------------------------------------------------------------

CSV_METERS = [
    {"id": "press_kwh", "role": "energy_counter", "machine": "press", "unit": "kWh",
     "csv": {"column": "Press kWh"}},
    {"id": "oven_kw", "role": "power", "machine": "oven", "unit": "kW",
     "csv": {"column": "Oven kW"}},
    {"id": "good", "role": "units_counter", "line": "l1", "csv": {"column": "Good"}},
    {"id": "sku", "role": "sku", "line": "l1", "csv": {"column": "Recipe"}},
]


def csv_read(plant: PlantModel, tmp_path: Path, text: str, bom: bool = False) -> ReadingBatch:
    path = tmp_path / "in.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return read_all(CsvFile(plant, str(path)))


def test_long_csv_with_zones_units_and_context(tmp_path):
    plant = plant_of(CSV_METERS, "Europe/Berlin")
    got = csv_read(plant, tmp_path, "\n".join([
        "time,meter,value,unit",
        "2026-03-02T00:00:00Z,press_kwh,100.5,kWh",
        "2026-03-02T01:00:00+01:00,press_kwh,101,",      # same instant, written in +01:00
        "2026-03-02 01:15:00,press_kwh,102,kWh",         # naive: Berlin, +01:00 in March
        "2026-07-01 02:00,oven_kw,55.5,",                # naive: Berlin, +02:00 in July
        "2026-03-02T00:30:00Z,good,40,units",
        "2026-03-02T00:30:00Z,sku,  Lemon 0.5 l ,",
        "2026-03-02T00:45:00Z,sku,Lemon 0.5 l,",        # unchanged: no event
    ]) + "\n", bom=True)
    assert triples(plant, got.readings) == [
        ("press_kwh", T0, 100.5), ("press_kwh", T0, 101.0),
        ("press_kwh", T0 + 15 * 60 * S, 102.0),
        ("oven_kw", int(datetime(2026, 7, 1, tzinfo=timezone.utc).timestamp()) * S, 55.5),
        ("good", T0 + 30 * 60 * S, 40.0),
    ]
    assert got.context == [ContextEvent(plant.meter_index["sku"], T0 + 30 * 60 * S,
                                        "Lemon 0.5 l")]
    assert got.rejections == []


def test_long_csv_refusals(tmp_path):
    plant = plant_of(CSV_METERS, csv={"timezone": "Asia/Tokyo"})
    got = csv_read(plant, tmp_path, "\n".join([
        "time,meter,value",
        "2026-03-02 09:00,press_kwh,1",          # 2 naive Tokyo time: 00:00 UTC
        "2026-03-02 09:00,lathe_kwh,1",          # 3 no such meter
        "yesterday,press_kwh,1",                  # 4
        "2026-03-02 09:00,press_kwh,abc",         # 5
        "2026-03-02 09:00,press_kwh,",            # 6 empty
        "2026-03-02 09:00,press_kwh,nan",         # 7
        "2026-03-02 09:00,press_kwh",             # 8 a cell short
        "2026-03-02 09:00,press_kwh,1,Wh",        # 9 unit column where the header has none
        "2026-03-02 09:00,sku,",                  # 10 empty SKU
    ]))
    assert reasons(got) == [Reason.UNKNOWN_METER, Reason.MALFORMED, Reason.NOT_A_NUMBER,
                            Reason.NOT_A_NUMBER, Reason.NOT_A_NUMBER, Reason.MALFORMED,
                            Reason.WRONG_UNIT, Reason.NOT_A_NUMBER]
    details = [r.detail for r in got.rejections]
    assert details[0] == f"{tmp_path / 'in.csv'}:3: no meter 'lathe_kwh' in plant.toml"
    assert details[2].endswith(":5: meter press_kwh: 'abc'")
    assert details[3].endswith(":6: meter press_kwh: empty")
    assert details[6].endswith(":9: meter press_kwh is in 'kWh', the row says 'Wh'")
    assert details[7].endswith(":10: meter sku: empty")
    assert got.rejections[1].raw == "yesterday,press_kwh,1"
    assert triples(plant, got.readings) == [("press_kwh", T0, 1.0)]


def test_naive_times_across_daylight_saving_changes_take_fold_0(tmp_path):
    plant = plant_of(CSV_METERS, "Europe/Berlin")
    got = csv_read(plant, tmp_path, "\n".join([
        "time,meter,value",
        "2026-10-25 02:30,oven_kw,1",   # happens twice: the first, still +02:00
        "2026-03-29 02:30,oven_kw,2",   # never happens: read with the +01:00 before the jump
    ]))
    assert [t for _, t, _ in triples(plant, got.readings)] == [
        int(datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc).timestamp()) * S,
        int(datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc).timestamp()) * S,
    ]


# --- CSV: wide shape --------------------------------------------------------------------------


def test_wide_csv_columns_map_to_meters_with_format_zone_and_midnight(tmp_path):
    plant = plant_of(CSV_METERS, "Asia/Seoul", csv={
        "time_column": "Stamp", "time_format": "%d.%m.%Y %H:%M", "midnight_ends_day": True})
    got = csv_read(plant, tmp_path, "\n".join([
        'Stamp,Press kWh,Notes,Oven kW,Good,Recipe',
        '02.03.2026 09:00,10.5,"quoted, ignored",3,100,A',
        '02.03.2026 00:00,11,,4,,A',       # 00:00 ends 2 March: 3 March 00:00 in Seoul
        '03.03.2026 09:00,12,,,101,B',
    ]))
    nine = T0  # 2 March 09:00 in Seoul (UTC+9) is 00:00 UTC
    midnight = T0 + 15 * 3600 * S  # 3 March 00:00 in Seoul is 2 March 15:00 UTC
    assert triples(plant, got.readings) == [
        ("press_kwh", nine, 10.5), ("oven_kw", nine, 3.0), ("good", nine, 100.0),
        ("press_kwh", midnight, 11.0), ("oven_kw", midnight, 4.0),
        ("press_kwh", nine + 86400 * S, 12.0), ("good", nine + 86400 * S, 101.0),
    ]
    sku = plant.meter_index["sku"]
    assert got.context == [ContextEvent(sku, nine, "A"), ContextEvent(sku, nine + 86400 * S, "B")]
    assert reasons(got) == [Reason.NOT_A_NUMBER] * 2
    assert [r.detail.split(": ", 1)[1] for r in got.rejections] == [
        "meter good: empty", "meter oven_kw: empty"]


def test_wide_csv_with_iso_times_and_bad_rows(tmp_path):
    plant = plant_of(CSV_METERS)
    got = csv_read(plant, tmp_path, "\n".join([
        "time,Press kWh",
        "2026-03-02T00:00:00Z,1",
        "2026-03-02T00:15:00Z,2,3",     # 3 a cell too many
        "02/03/2026 00:30,3",           # 4 not ISO 8601
        "",                             # 5 blank
        "2026-03-02T00:45:00Z,x",       # 6
    ]))
    assert reasons(got) == [Reason.MALFORMED, Reason.MALFORMED, Reason.NOT_A_NUMBER]
    assert line_numbers(got) == [3, 4, 6]
    assert triples(plant, got.readings) == [("press_kwh", T0, 1.0)]


def test_a_wide_file_without_a_mapped_column_says_so_once(tmp_path):
    plant = plant_of(CSV_METERS)
    got = csv_read(plant, tmp_path, "time,Press,Oven\n2026-03-02T00:00:00Z,1,2\n"
                   "2026-03-02T00:15:00Z,1,2\n2026-03-02T00:30:00Z,1,2\n")
    assert reasons(got) == [Reason.UNKNOWN_METER] * 3
    first, *rest = [r.detail for r in got.rejections]
    assert "no column of this file is a meter's csv column" in first
    assert "file columns: time, Press, Oven" in first
    assert "meters' columns: Good, Oven kW, Press kWh, Recipe" in first
    assert [d.split(": ", 1)[1] for d in rest] == ["see line 2", "see line 2"]


def test_a_wide_file_without_its_time_column_says_so_once(tmp_path):
    plant = plant_of(CSV_METERS)
    got = csv_read(plant, tmp_path, "date,Good\n2026-03-02T00:00:00Z,1\n2026-03-02T00:15:00Z,2\n")
    assert reasons(got) == [Reason.MALFORMED] * 2
    assert "no time column 'time'" in got.rejections[0].detail
    assert got.rejections[1].detail.endswith(": see line 2")


# --- the steel plant example ------------------------------------------------------------------


def test_the_steel_plant_csv_reads_in_seoul_time_with_midnight_rows_moved():
    plant = build_plant(load_config(EXAMPLE / "plant.toml"))
    source = CsvFile(plant, str(EXAMPLE / "steel_industry_daewoo_2018_15min.csv"))
    got = read_all(source)
    assert len(got.readings) == 35_040 and got.rejections == [] and got.context == []
    assert source.bytes_read == source.size_bytes
    # "01/01/2018 00:15" in Seoul (UTC+9) is 2017-12-31 15:15 UTC = 1514733300 s
    assert triples(plant, got.readings[:3]) == [
        ("usage", 1_514_733_300 * S, 3.17), ("usage", 1_514_734_200 * S, 4.0),
        ("usage", 1_514_735_100 * S, 3.24)]
    # row 96 (file line 97) is "01/01/2018 00:00,3.42": the end of 1 January, i.e.
    # 2018-01-02 00:00 in Seoul = 2018-01-01 15:00 UTC = 1514764800 + 15 h
    assert triples(plant, got.readings[95:97]) == [
        ("usage", 1_514_818_800 * S, 3.42), ("usage", 1_514_819_700 * S, 3.2)]
    # the last row, "31/12/2018 00:00", is 2019-01-01 00:00 in Seoul
    assert int(got.readings["time"][-1]) == (1_546_300_800 - 9 * 3600) * S
    # every quarter hour of the year exactly once
    assert np.all(np.diff(np.sort(got.readings["time"])) == 15 * 60 * S)
