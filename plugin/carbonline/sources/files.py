"""The built-in file source: InfluxDB line protocol and CSV, mapped to meters by plant.toml.

Line protocol (``.lp``, ``.txt``, ``.line``, or ``-`` for stdin): each point is matched to meters
by their ``influx`` mapping (measurement, tags that must match, and the field — or, for SKU and
order meters, the tag or string field — holding the value). A point with several mapped fields
gives several readings; fields no meter maps are ignored. A point carrying a ``unit`` tag that
differs from the meter's unit is refused as ``wrong_unit``. Lines without a timestamp are
malformed: a replay has no arrival time to stand in.

CSV (``.csv``) in one of two shapes, told apart by the header:

- **long**: ``time,meter,value[,unit]`` — one reading per row; ``meter`` is the meter id from
  plant.toml, ``time`` ISO 8601 (naive times are in ``[csv] timezone``, else the site's zone),
  ``value`` a number, or text for ``sku``/``order`` meters; ``unit`` is checked when present.
- **wide**: a time column (``[csv] time_column``, parsed with ``[csv] time_format`` or as
  ISO 8601; with ``[csv] midnight_ends_day`` a 00:00 row belongs to the day that is ending) and
  value columns mapped by each meter's ``csv = { column = "…" }``. Empty cells are refused as
  ``not_a_number``.

Naive local times are placed with the zone's first occurrence when ambiguous (``fold=0``).
Nothing here raises on bad content: every refused line is a counted rejection with its line
number and text. The common well-formed line-protocol line takes a fast path (plain string
splits and a cache per series key); lines with escapes or quoted strings go through
``line_protocol_parser``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from line_protocol_parser import LineFormatError, parse_line

from ..config import CONTEXT_ROLES, Meter
from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import READING, NS_PER_S, ContextEvent, Reason, ReadingBatch, Rejection

LINE_PROTOCOL_SUFFIXES = {".lp", ".txt", ".line"}
BATCH_LINES = 100_000
_RAW = 200


@hookimpl
def carbonline_sources(plant: PlantModel, inputs: Sequence[str]) -> list | None:
    sources: list = []
    for name in inputs:
        suffix = Path(name).suffix.lower()
        if name == "-" or suffix in LINE_PROTOCOL_SUFFIXES:
            sources.append(LineProtocolFile(plant, name))
        elif suffix == ".csv":
            sources.append(CsvFile(plant, name))
    return sources


class _FileSource:
    """Common parts: the name, progress in bytes, and batch assembly."""

    def __init__(self, plant: PlantModel, name: str) -> None:
        self.plant = plant
        self.name = name
        self.size_bytes: int | None = os.path.getsize(name) if os.path.isfile(name) else None
        self.bytes_read = 0
        self._meters: list[int] = []
        self._times: list[int] = []
        self._values: list[float] = []
        self._context: list[ContextEvent] = []
        self._rejections: list[Rejection] = []

    def _open(self) -> io.BufferedReader:
        return sys.stdin.buffer if self.name == "-" else open(self.name, "rb")  # type: ignore

    def _batch(self) -> ReadingBatch:
        readings = np.empty(len(self._meters), READING)
        readings["meter"] = self._meters
        readings["time"] = self._times
        readings["value"] = self._values
        batch = ReadingBatch(readings, self._context, self._rejections)
        self._meters, self._times, self._values = [], [], []
        self._context, self._rejections = [], []
        return batch

    def _reject(self, reason: Reason, lineno: int, detail: str, raw: str) -> None:
        self._rejections.append(
            Rejection(reason, f"{self.name}:{lineno}: {detail}", raw.strip()[:_RAW]))


# --- line protocol ---------------------------------------------------------------------------


class _Series:
    """What a series key (measurement + tags) maps to: numeric fields, text fields, tag values."""

    __slots__ = ("known", "numeric", "text_fields", "tag_context", "units", "plain")

    def __init__(self, candidates: list[tuple[int, Meter]], tags: dict[str, str]) -> None:
        self.known = bool(candidates)  # some meter maps this measurement at all
        self.numeric: dict[str, int] = {}
        self.text_fields: dict[str, int] = {}
        self.tag_context: list[tuple[int, str]] = []
        self.units: dict[int, str] = {}
        for index, meter in candidates:
            mapping = meter.influx
            assert mapping is not None
            if any(tags.get(k) != v for k, v in mapping.tags.items()):
                continue
            if mapping.tag is not None:
                if mapping.tag in tags:
                    self.tag_context.append((index, tags[mapping.tag]))
            elif meter.role in CONTEXT_ROLES:
                self.text_fields[mapping.field] = index
            else:
                self.numeric[mapping.field] = index
            unit = tags.get("unit")
            if unit is not None and meter.role not in CONTEXT_ROLES:
                self.units[index] = unit
        self.plain = not (self.text_fields or self.tag_context or self.units)


class LineProtocolFile(_FileSource):
    """InfluxDB line protocol, one point per line."""

    def __init__(self, plant: PlantModel, name: str) -> None:
        super().__init__(plant, name)
        self._by_measurement: dict[str, list[tuple[int, Meter]]] = {}
        for index, meter in enumerate(plant.meters):
            if meter.influx is not None:
                self._by_measurement.setdefault(meter.influx.measurement, []).append(
                    (index, meter))

    def read(self) -> Iterator[ReadingBatch]:
        cache: dict[str, _Series] = {}
        last_context: dict[int, str] = {}
        with self._open() as stream:
            for lineno, raw in enumerate(stream, 1):
                self.bytes_read += len(raw)
                try:
                    line = raw.decode("utf-8").strip()
                except UnicodeDecodeError:
                    self._reject(Reason.MALFORMED, lineno, "not UTF-8", repr(raw))
                    continue
                if not line or line[0] == "#":
                    continue
                if "\\" in line or '"' in line:
                    self._slow(line, lineno, cache, last_context)
                else:
                    self._fast(line, lineno, cache, last_context)
                if len(self._meters) >= BATCH_LINES:
                    yield self._batch()
        yield self._batch()

    def _series(self, key: str, cache: dict[str, _Series], measurement: str | None = None,
                tags: dict[str, str] | None = None) -> _Series:
        series = cache.get(key)
        if series is None:
            if measurement is None:
                measurement, *pairs = key.split(",")
                tags = dict(p.split("=", 1) for p in pairs)
            series = cache[key] = _Series(self._by_measurement.get(measurement, []), tags or {})
        return series

    def _fast(self, line: str, lineno: int, cache: dict[str, _Series],
              last_context: dict[int, str]) -> None:
        parts = line.split(" ")
        if len(parts) != 3:
            detail = "no timestamp" if len(parts) == 2 else "expected 'series fields timestamp'"
            self._reject(Reason.MALFORMED, lineno, detail, line)
            return
        key, fields, stamp = parts
        try:
            series = self._series(key, cache)
            time = int(stamp)
        except ValueError:
            self._reject(Reason.MALFORMED, lineno, "cannot parse", line)
            return
        if series.plain:  # only numeric fields, no unit to check: the hot path
            used = False
            for pair in fields.split(","):
                name, _, text = pair.partition("=")
                meter = series.numeric.get(name)
                if meter is None:
                    continue
                used = True
                try:
                    value = float(text)
                except ValueError:
                    value = _number(text)
                if value is None or not math.isfinite(value):
                    self._reject(Reason.NOT_A_NUMBER, lineno, f"field {name}={text!r} for "
                                 f"meter {self.plant.meters[meter].id}", line)
                    continue
                self._meters.append(meter)
                self._times.append(time)
                self._values.append(value)
            if not used:
                self._unknown(series, lineno, line)
            return
        try:
            raw = dict(f.split("=", 1) for f in fields.split(","))
        except ValueError:
            self._reject(Reason.MALFORMED, lineno, "cannot parse fields", line)
            return
        numbers = {name: _number(text) for name, text in raw.items()}
        self._emit(series, numbers, {}, time, lineno, line, last_context)

    def _slow(self, line: str, lineno: int, cache: dict[str, _Series],
              last_context: dict[int, str]) -> None:
        try:
            point = parse_line(line)
        except (LineFormatError, ValueError) as exc:
            self._reject(Reason.MALFORMED, lineno, f"cannot parse: {exc}", line)
            return
        if point.get("time") is None:
            self._reject(Reason.MALFORMED, lineno, "no timestamp", line)
            return
        tags = point["tags"]
        key = point["measurement"] + "".join(f",{k}={v}" for k, v in sorted(tags.items()))
        series = self._series(key, cache, point["measurement"], tags)
        # typed values: a quoted string is text even when it looks like a number
        numbers = {k: None if isinstance(v, (bool, str)) else float(v)
                   for k, v in point["fields"].items()}
        texts = {k: v for k, v in point["fields"].items() if isinstance(v, str)}
        self._emit(series, numbers, texts, int(point["time"]), lineno, line, last_context)

    def _emit(self, series: _Series, numbers: dict[str, float | None], texts: dict[str, str],
              time: int, lineno: int, line: str, last_context: dict[int, str]) -> None:
        """Readings and context changes from one parsed point. ``numbers`` holds every field
        (``None`` where the value is not a number), ``texts`` the string fields."""
        used = False
        for meter, text in series.tag_context:
            used = True
            self._context_change(meter, time, text, last_context)
        for name, meter in series.text_fields.items():
            if name in texts:
                used = True
                self._context_change(meter, time, texts[name], last_context)
        for name, meter in series.numeric.items():
            if name not in numbers:
                continue
            used = True
            spec = self.plant.meters[meter]
            unit = series.units.get(meter)
            value = numbers[name]
            if unit is not None and unit != spec.unit:
                self._reject(Reason.WRONG_UNIT, lineno,
                             f"meter {spec.id} is in {spec.unit!r}, the point says {unit!r}", line)
            elif value is None or not math.isfinite(value):
                self._reject(Reason.NOT_A_NUMBER, lineno,
                             f"field {name} is not a number for meter {spec.id}", line)
            else:
                self._meters.append(meter)
                self._times.append(time)
                self._values.append(value)
        if not used:
            self._unknown(series, lineno, line)

    def _unknown(self, series: _Series, lineno: int, line: str) -> None:
        why = "measurement mapped, but no meter matches these tags/fields" if series.known \
            else "no meter maps this measurement"
        self._reject(Reason.UNKNOWN_METER, lineno, why, line)

    def _context_change(self, meter: int, time: int, text: str,
                        last_context: dict[int, str]) -> None:
        if last_context.get(meter) != text:
            last_context[meter] = text
            self._context.append(ContextEvent(meter, time, text))


def _number(text: str) -> float | None:
    """A raw line-protocol field value as a float; ``None`` for booleans and anything else."""
    if text[-1:] in ("i", "u"):
        text = text[:-1]
    elif text in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


# --- CSV -------------------------------------------------------------------------------------


class CsvFile(_FileSource):
    """Long (``time,meter,value[,unit]``) or wide (time column + mapped columns) CSV."""

    def read(self) -> Iterator[ReadingBatch]:
        fmt = self.plant.config.csv
        self._zone = ZoneInfo(fmt.timezone or self.plant.config.site.timezone)
        with self._open() as binary:
            stream = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            reader = csv.reader(stream)
            header = next(reader, None)
            if header is None:
                yield self._batch()
                return
            header = [h.strip() for h in header]
            long = header[:3] == ["time", "meter", "value"]
            columns = self._wide_columns(header) if not long else []
            for lineno, row in enumerate(reader, 2):
                if long:
                    self._long_row(row, lineno)
                else:
                    self._wide_row(row, lineno, header, columns)
                if len(self._meters) + len(self._rejections) >= BATCH_LINES:
                    self.bytes_read = binary.tell()
                    yield self._batch()
            self.bytes_read = self.size_bytes or binary.tell()
        yield self._batch()

    def _time(self, text: str, fmt: str | None) -> int:
        moment = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
        if moment.tzinfo is None:
            if self.plant.config.csv.midnight_ends_day and moment.hour == moment.minute == 0 \
                    and moment.second == 0:
                moment += timedelta(days=1)
            moment = moment.replace(tzinfo=self._zone)
        delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
        return (delta.days * 86400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000

    def _long_row(self, row: list[str], lineno: int) -> None:
        raw = ",".join(row)
        if len(row) < 3:
            self._reject(Reason.MALFORMED, lineno, "expected time,meter,value[,unit]", raw)
            return
        meter = self.plant.meter_index.get(row[1].strip())
        if meter is None:
            self._reject(Reason.UNKNOWN_METER, lineno, f"no meter {row[1]!r} in plant.toml", raw)
            return
        try:
            time = self._time(row[0].strip(), None)
        except ValueError as exc:
            self._reject(Reason.MALFORMED, lineno, f"time: {exc}", raw)
            return
        spec = self.plant.meters[meter]
        if spec.role in CONTEXT_ROLES:
            self._context.append(ContextEvent(meter, time, row[2].strip()))
            return
        if len(row) > 3 and row[3].strip() and row[3].strip() != spec.unit:
            self._reject(Reason.WRONG_UNIT, lineno,
                         f"meter {spec.id} is in {spec.unit!r}, the row says {row[3]!r}", raw)
            return
        self._number(meter, time, row[2], lineno, raw)

    def _wide_columns(self, header: list[str]) -> list[tuple[int, int]]:
        index = {name: i for i, name in enumerate(header)}
        return [(index[m.csv.column], i) for i, m in enumerate(self.plant.meters)
                if m.csv is not None and m.csv.column in index]

    def _wide_row(self, row: list[str], lineno: int, header: list[str],
                  columns: list[tuple[int, int]]) -> None:
        raw = ",".join(row)
        fmt = self.plant.config.csv
        if not columns:
            self._reject(Reason.UNKNOWN_METER, lineno, "no column of this file is mapped to a "
                         f"meter (csv = {{ column = … }}); columns: {', '.join(header)}", raw)
            return
        try:
            time = self._time(row[header.index(fmt.time_column)].strip(), fmt.time_format)
        except (ValueError, IndexError) as exc:
            self._reject(Reason.MALFORMED, lineno, f"time column {fmt.time_column!r}: {exc}", raw)
            return
        for column, meter in columns:
            if column >= len(row):
                self._reject(Reason.MALFORMED, lineno, f"row has no column {header[column]!r}", raw)
            elif self.plant.meters[meter].role in CONTEXT_ROLES:
                self._context.append(ContextEvent(meter, time, row[column].strip()))
            else:
                self._number(meter, time, row[column], lineno, raw)

    def _number(self, meter: int, time: int, text: str, lineno: int, raw: str) -> None:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self._reject(Reason.NOT_A_NUMBER, lineno,
                         f"meter {self.plant.meters[meter].id}: {text.strip() or 'empty'!r}", raw)
            return
        self._meters.append(meter)
        self._times.append(time)
        self._values.append(value)
