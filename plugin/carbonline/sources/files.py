"""The built-in file source: InfluxDB line protocol and CSV files, mapped to meters by plant.toml.

Inputs it claims: existing files ending in ``.lp``, ``.txt`` or ``.line`` (line protocol),
``.csv``, and ``-`` (line protocol on stdin). Files are read as UTF-8; bytes that are not UTF-8
become U+FFFD, so such a line is refused (or its text kept) rather than stopping the run.

**Line protocol.** Each point is matched to meters by their ``influx`` mapping: the
measurement, the tags that must be present with those values (the point may carry more), and
the ``field`` holding a numeric value, or for ``sku``/``order`` meters the ``tag`` or string
``field`` holding the text (an integer field gives its digits, ``42i`` → ``42``). A point
with several mapped fields gives one reading per field;
fields no meter maps are ignored. Timestamps are nanoseconds (UTC); a line without one is
``malformed``, since a replay has no arrival time to stand in. Integer (``12i``) and unsigned
(``12u``) fields are numbers; booleans and strings are ``not_a_number`` for numeric meters, as
are NaN and infinity. A point with a ``unit`` tag or string field that differs from the meter's
unit is ``wrong_unit``. A point that gives no meter anything is ``unknown_meter``, whether its
measurement is mapped by no meter or its tags/fields match none. Lines starting with ``#`` and
blank lines are skipped.

Speed: the common line (no backslash, no double quote) is split with plain ``str`` operations
and its series key (measurement and tags, as written) is resolved to meters once and cached;
every other line goes through ``line_protocol_parser``. On well-formed lines the two agree
(a property test checks it). Off that ground the fast path reads numbers the way Python's
``int``/``float`` do: it takes digit-group underscores (``1_000``) and subnormal numbers, and
calls ``nan``/``inf`` ``not_a_number``, where the parser refuses such a line as ``malformed``.

**CSV**, in one of two shapes, told apart by the header (a UTF-8 byte-order mark is fine):

- *Long*, header ``time,meter,value`` or ``time,meter,value,unit``: one reading per row.
  ``meter`` is a meter id from plant.toml; ``time`` is ISO 8601, e.g. ``2026-03-02T06:00:00Z``
  or ``2026-03-02 07:00:00+01:00``; ``value`` is a number, or the text for ``sku``/``order``
  meters; ``unit``, when given, must be the meter's unit.
- *Wide*, any other header: one row per time, one column per meter. The time is in the
  ``[csv] time_column`` (default ``time``), parsed with the strptime format ``[csv]
  time_format`` or as ISO 8601 when none is given; with ``[csv] midnight_ends_day = true`` a row
  stamped 00:00 belongs to the end of the day it is labelled with (one day is added). Meters
  name their column with ``csv = { column = "Usage_kWh" }``; columns no meter names are
  ignored, and a file in which no column is named by a meter has every row refused.
  ``time_format`` and ``midnight_ends_day`` apply to this shape only.

Naive CSV times are local time in ``[csv] timezone``, else ``[site] timezone``. A local time
that occurs twice (clocks going back) is read as the first occurrence, and one that does not
exist (clocks going forward) with the offset in force before the change (Python's ``fold=0``):
02:30 on a spring-forward night in Europe/Berlin becomes 01:30 UTC. An empty cell is refused as
``not_a_number`` ("empty").

Context (``sku``/``order``) is emitted when a meter's text changes, the first value included.
Nothing here raises on bad content: every refused point, cell or row is a
:class:`~carbonline.records.Rejection` whose detail names the file and line number and whose
``raw`` keeps the line's first 200 characters. Duplicate, late and future readings are the
engine's to judge.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, time, timedelta, timezone
from itertools import islice
from typing import BinaryIO, TextIO
from zoneinfo import ZoneInfo

import numpy as np
from line_protocol_parser import LineFormatError, parse_line

from ..config import CONTEXT_ROLES, UNIT_ROLES, InfluxMapping, Meter
from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import READING, ContextEvent, ReadingBatch, Reason, Rejection
from .changes import TextChanges

LINE_PROTOCOL_SUFFIXES = frozenset({".lp", ".txt", ".line"})
#: Input lines (CSV rows) per batch: big enough to amortise numpy, small enough to stream.
BATCH_LINES = 100_000
#: How much of a refused line a rejection keeps.
RAW_CHARS = 200
#: Distinct line-protocol series keys whose meters are remembered (a tag of high cardinality
#: would otherwise grow the cache without end).
MAX_CACHED_SERIES = 100_000

_I8_MIN, _I8_MAX = -(2**63), 2**63 - 1
#: InfluxDB's range of valid timestamps (int64 without its two extremes), as the parser has it.
_TIME_MIN, _TIME_MAX = _I8_MIN + 2, _I8_MAX - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_MIDNIGHT = time(0)
_BOOLEANS = {"t": True, "T": True, "true": True, "True": True, "TRUE": True,
             "f": False, "F": False, "false": False, "False": False, "FALSE": False}


@hookimpl
def carbonline_sources(plant: PlantModel, inputs: Sequence[str]) -> list:
    """Claim ``-`` and existing ``.lp``/``.txt``/``.line``/``.csv`` files."""
    sources: list[LineProtocolFile | CsvFile] = []
    for name in inputs:
        suffix = os.path.splitext(name)[1].lower()
        if name == "-" or (suffix in LINE_PROTOCOL_SUFFIXES and os.path.isfile(name)):
            sources.append(LineProtocolFile(plant, name))
        elif suffix == ".csv" and os.path.isfile(name):
            sources.append(CsvFile(plant, name))
    return sources


def meter_unit(plant: PlantModel, meter: Meter) -> str:
    """The unit a meter's values are in, defaults filled in ("" for text meters)."""
    if meter.unit:
        return meter.unit
    if meter.fuel is not None:
        return plant.config.fuels[meter.fuel].unit
    return "units" if meter.role in UNIT_ROLES else ""


class _FileSource:
    """What both formats share: name, progress in bytes, and the batch being filled.

    ``size_bytes`` is the file's size (``None`` for stdin); ``bytes_read`` how far reading has
    got, updated once per batch, for a progress bar (for stdin it counts characters).
    """

    def __init__(self, plant: PlantModel, name: str) -> None:
        self.plant = plant
        self.name = name
        self.size_bytes: int | None = os.path.getsize(name) if os.path.isfile(name) else None
        self.bytes_read = 0
        self.units = [meter_unit(plant, m) for m in plant.meters]  # per meter index
        self._texts = TextChanges()
        self._meters: list[int] = []
        self._times: list[int] = []
        self._values: list[float] = []
        self._context: list[ContextEvent] = []
        self._rejections: list[Rejection] = []

    @contextmanager
    def _open(self, encoding: str, newline: str | None) -> Iterator[tuple[TextIO, BinaryIO]]:
        binary: BinaryIO = sys.stdin.buffer if self.name == "-" else open(self.name, "rb")
        text = io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline=newline)
        try:
            yield text, binary
        finally:
            if self.name == "-":
                text.detach()  # leave stdin open for whoever else wants it
            else:
                text.close()

    def _batch(self) -> ReadingBatch:
        """Hand over what has been collected since the last batch."""
        readings = np.empty(len(self._times), READING)
        readings["meter"] = self._meters
        readings["time"] = self._times
        readings["value"] = self._values
        batch = ReadingBatch(readings, self._context, self._rejections)
        self._meters, self._times, self._values = [], [], []
        self._context, self._rejections = [], []
        return batch

    def _reading(self, meter: int, moment: int, value: float) -> None:
        self._meters.append(meter)
        self._times.append(moment)
        self._values.append(value)

    def _text_change(self, meter: int, moment: int, text: str) -> None:
        event = self._texts.event(meter, moment, text)
        if event is not None:
            self._context.append(event)

    def _reject(self, reason: Reason, lineno: int, detail: str, raw: str) -> None:
        self._rejections.append(
            Rejection(reason, f"{self.name}:{lineno}: {detail}", raw.strip()[:RAW_CHARS]))

    def _meter_id(self, meter: int) -> str:
        return self.plant.meters[meter].id


# --- line protocol ---------------------------------------------------------------------------


_Mapped = list[tuple[int, InfluxMapping]]  # (meter index, its mapping)


class _Series:
    """What one series (measurement + tags) gives to which meters, worked out once per key.

    ``single`` serves the fast path: field → meter for the fields that go to exactly one
    numeric meter, in a series with nothing else to do (no context, no unit disagreement); it
    is empty for any other series, whose points take the general path.
    """

    __slots__ = ("mapped", "unit", "single", "numeric", "wrong_unit", "text_fields",
                 "tag_context", "wanted")

    def __init__(self, source: LineProtocolFile, measurement: str, tags: dict[str, str]) -> None:
        by_tag_names = source.mappings.get(measurement, {})
        self.mapped = bool(by_tag_names)  # some meter maps this measurement at all
        self.unit = unit = tags.get("unit")
        self.numeric: dict[str, list[int]] = {}  # field → numeric meters
        self.wrong_unit: dict[str, list[int]] = {}  # field → meters the unit tag contradicts
        self.text_fields: dict[str, list[int]] = {}  # field → context meters
        self.tag_context: list[tuple[int, str]] = []  # (context meter, this series' tag value)
        matches = [
            match for names, by_values in by_tag_names.items() if all(n in tags for n in names)
            for match in by_values.get(tuple(tags[n] for n in names), ())
        ]
        for index, mapping in sorted(matches, key=lambda match: match[0]):
            if mapping.tag is not None:
                if mapping.tag in tags:
                    self.tag_context.append((index, tags[mapping.tag]))
            elif source.plant.meters[index].role in CONTEXT_ROLES:
                self.text_fields.setdefault(mapping.field, []).append(index)
            elif unit is not None and unit != source.units[index]:
                self.wrong_unit.setdefault(mapping.field, []).append(index)
            else:
                self.numeric.setdefault(mapping.field, []).append(index)
        #: the fields a point's values are needed for (a ``unit`` field is checked)
        self.wanted = {*self.numeric, *self.wrong_unit, *self.text_fields, "unit"}
        simple = not (self.wrong_unit or self.text_fields or self.tag_context)
        self.single: dict[str, int] = {  # (a field named "unit" is a unit, not a reading)
            field: meters[0] for field, meters in self.numeric.items()
            if simple and len(meters) == 1 and field != "unit"
        }


class LineProtocolFile(_FileSource):
    """InfluxDB line protocol, one point per line, from a file or stdin (``-``)."""

    def __init__(self, plant: PlantModel, name: str) -> None:
        super().__init__(plant, name)
        #: measurement → names of the tags a mapping requires → their values → the meters
        #: (index, mapping): a new series finds its meters in a few lookups, however many
        #: meters share the measurement
        self.mappings: dict[str, dict[tuple[str, ...], dict[tuple[str, ...], _Mapped]]] = {}
        for index, meter in enumerate(plant.meters):
            if meter.influx is not None:
                names = tuple(sorted(meter.influx.tags))
                values = tuple(meter.influx.tags[n] for n in names)
                self.mappings.setdefault(meter.influx.measurement, {}).setdefault(
                    names, {}).setdefault(values, []).append((index, meter.influx))
        self._by_key: dict[str, _Series] = {}  # series key as written → its meters
        self._by_tags: dict[tuple, _Series] = {}  # (measurement, tags) from the parser

    def read(self) -> Iterator[ReadingBatch]:
        """One batch per :data:`BATCH_LINES` lines."""
        lineno = 0
        with self._open("utf-8", None) as (text, binary):
            while lines := list(islice(text, BATCH_LINES)):
                self._parse(lines, lineno)
                lineno += len(lines)
                self.bytes_read = (binary.tell() if binary.seekable()
                                   else self.bytes_read + sum(map(len, lines)))
                yield self._batch()

    def parse(self, text: str) -> ReadingBatch:
        """Line protocol held in memory (an InfluxDB subscription's POST body) → a batch,
        by the same rules as a file."""
        self._parse([line for line in text.splitlines() if line.strip()], 0)
        return self._batch()

    def _parse(self, lines: list[str], lineno: int) -> None:
        """The hot loop. A line with one field that one meter maps, the common case, is
        handled inline; anything else goes to :meth:`_general` or :meth:`_slow`."""
        cache = self._by_key
        meters, times, values = self._meters, self._times, self._values
        isfinite = math.isfinite
        for line in lines:
            lineno += 1
            if line[0] == "#":
                continue
            parts = line.split(" ")
            if len(parts) != 3 or "\\" in line or '"' in line:
                self._slow(line, lineno)
                continue
            key, fields, stamp = parts
            series = cache.get(key) or self._series_of_key(key)
            if series is None:
                self._slow(line, lineno)
                continue
            if "," not in fields:
                name, _, token = fields.partition("=")
                meter = series.single.get(name)
                if meter is not None:
                    try:
                        value = float(token)
                        moment = int(stamp)
                    except ValueError:
                        pass
                    else:
                        if isfinite(value) and _TIME_MIN <= moment <= _TIME_MAX:
                            meters.append(meter)
                            times.append(moment)
                            values.append(value)
                            continue
            self._general(series, fields, stamp, line, lineno)

    def _series_of_key(self, key: str) -> _Series | None:
        """Parse a series key without escapes (``m,t1=a,t2=b``); ``None`` if it is not valid."""
        measurement, *pairs = key.split(",")
        tags = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not (name and sep and value) or "=" in value:
                return None
            tags[name] = value
        if not measurement:
            return None
        if len(self._by_key) >= MAX_CACHED_SERIES:
            self._by_key.clear()
        series = self._by_key[key] = _Series(self, measurement, tags)
        return series

    def _general(self, series: _Series, fields: str, stamp: str, line: str, lineno: int) -> None:
        """An unescaped line the hot loop did not finish: several fields, context, unit or
        odd values. Anything that does not split cleanly is left to the parser."""
        try:
            tokens = dict(_field_token(pair) for pair in fields.split(","))
            moment = int(stamp)
            values = {name: _token_value(tokens[name]) for name in series.wanted
                      if name in tokens}
        except ValueError:
            self._slow(line, lineno)
            return
        if not _TIME_MIN <= moment <= _TIME_MAX:
            self._slow(line, lineno)
            return
        self._point(series, values, moment, line, lineno)

    def _slow(self, line: str, lineno: int) -> None:
        """Any line, through ``line_protocol_parser``: escapes, string fields, odd spacing."""
        line = line.strip()
        if not line or line[0] == "#":
            return
        try:
            point = parse_line(line)
        except (LineFormatError, ValueError, OverflowError) as exc:
            self._reject(Reason.MALFORMED, lineno, f"not line protocol: {exc}", line)
            return
        if point["time"] is None:
            self._reject(Reason.MALFORMED, lineno, "no timestamp", line)
            return
        self._point(self._series_of_tags(point["measurement"], point["tags"]), point["fields"],
                    point["time"], line, lineno)

    def _series_of_tags(self, measurement: str, tags: dict[str, str]) -> _Series:
        key = (measurement, *sorted(tags.items()))
        series = self._by_tags.get(key)
        if series is None:
            if len(self._by_tags) >= MAX_CACHED_SERIES:
                self._by_tags.clear()
            series = self._by_tags[key] = _Series(self, measurement, tags)
        return series

    def point(self, measurement: str, tags: dict[str, str], values: dict[str, object],
              moment: int, raw: str) -> None:
        """One point read some other way (an InfluxQL answer); collect with :meth:`take`."""
        self._point(self._series_of_tags(measurement, tags), values, moment, raw, 0)

    def take(self) -> ReadingBatch:
        """What :meth:`point` collected since the last call."""
        return self._batch()

    def _point(self, series: _Series, values: dict[str, object], moment: int, line: str,
               lineno: int) -> None:
        """Readings, context and rejections from one parsed point (field values as Python
        values: float, int, bool or str)."""
        given = False
        for meter, text in series.tag_context:
            given = True
            self._text_change(meter, moment, text)
        for name, context_meters in series.text_fields.items():
            if name in values:
                given = True
                for meter in context_meters:
                    self._text_change(meter, moment, _text(values[name]))
        unit = values.get("unit")
        for name, numeric_meters in series.numeric.items():
            if name not in values:
                continue
            given = True
            for meter in numeric_meters:
                if unit is not None and unit != self.units[meter]:
                    self._wrong_unit(meter, unit, lineno, line)
                    continue
                value = _number(values[name])
                if value is None:
                    self._reject(Reason.NOT_A_NUMBER, lineno, f"field {name}={values[name]!r} "
                                 f"for meter {self._meter_id(meter)}", line)
                else:
                    self._reading(meter, moment, value)
        for name, wrong_meters in series.wrong_unit.items():
            if name in values:
                given = True
                for meter in wrong_meters:
                    self._wrong_unit(meter, series.unit, lineno, line)
        if not given:
            why = ("no meter maps these tags and fields" if series.mapped
                   else "no meter maps this measurement")
            self._reject(Reason.UNKNOWN_METER, lineno, why, line)

    def _wrong_unit(self, meter: int, unit: object, lineno: int, line: str) -> None:
        self._reject(Reason.WRONG_UNIT, lineno, f"meter {self._meter_id(meter)} is in "
                     f"{self.units[meter]!r}, the point says {unit!r}", line)


def _field_token(pair: str) -> tuple[str, str]:
    """``name=token`` → (name, token); ``ValueError`` when either side is missing."""
    name, sep, token = pair.partition("=")
    if not (name and sep and token):
        raise ValueError(pair)
    return name, token


def _token_value(token: str) -> float | int | bool:
    """An unquoted line-protocol field value: ``1.5``, ``12i`` (int64), ``12u`` (uint64) or a
    boolean; ``ValueError`` for anything else, as the parser would refuse it."""
    if token[-1] == "i":
        value = int(token[:-1])
        if not _I8_MIN <= value <= _I8_MAX:
            raise ValueError(token)
        return value
    if token[-1] == "u":
        value = int(token[:-1])
        if token[0] == "-" or value >= 2**64:
            raise ValueError(token)
        return value
    if token in _BOOLEANS:
        return _BOOLEANS[token]
    return float(token)


def _number(value: object) -> float | None:
    """A finite float from a field value; ``None`` for booleans, strings, NaN and infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: object) -> str:
    """A context meter's text from a field value: strings as they are, integers in digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


# --- CSV -------------------------------------------------------------------------------------


class _Clock:
    """Time text → ns UTC, memoised per distinct text (a long file repeats each timestamp once
    per meter). Naive times are read in ``zone`` with ``fold=0``; digits past the microsecond
    are dropped (Python's ``datetime``)."""

    _MAX_CACHED = 100_000

    def __init__(self, zone: ZoneInfo, fmt: str | None, midnight_ends_day: bool) -> None:
        self.zone = zone
        self.fmt = fmt
        self.midnight_ends_day = midnight_ends_day
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        """The instant in ns; ``ValueError`` when the text is not a time in this format."""
        ns = self._cache.get(text)
        if ns is None:
            if len(self._cache) >= self._MAX_CACHED:
                self._cache.clear()
            ns = self._cache[text] = self._parse(text)
        return ns

    def _parse(self, text: str) -> int:
        moment = datetime.strptime(text, self.fmt) if self.fmt else datetime.fromisoformat(text)
        if self.midnight_ends_day and moment.time() == _MIDNIGHT:
            moment += timedelta(days=1)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return (moment - _EPOCH) // _MICROSECOND * 1000


RowHandler = Callable[[list[str], int], None]


class CsvFile(_FileSource):
    """A CSV file in the long (``time,meter,value[,unit]``) or wide (a column per meter)
    shape; see the module documentation."""

    def read(self) -> Iterator[ReadingBatch]:
        """One batch per :data:`BATCH_LINES` rows."""
        with self._open("utf-8-sig", "") as (text, binary):
            reader = csv.reader(text)
            header = [cell.strip() for cell in next(reader, [])]
            if not header:
                return
            handle = self._long_handler() if _is_long(header) else self._wide_handler(header)
            rows = self._rows(reader)
            while chunk := list(islice(rows, BATCH_LINES)):
                for lineno, row in chunk:
                    if row:  # not a blank line
                        handle(row, lineno)
                self.bytes_read = binary.tell()
                yield self._batch()

    def _rows(self, reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
        """(line number, cells), with what the csv module cannot read refused as malformed."""
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._reject(Reason.MALFORMED, reader.line_num, f"not CSV: {exc}", "")
                continue
            yield reader.line_num, row

    def _clock(self, fmt: str | None, midnight_ends_day: bool) -> _Clock:
        config = self.plant.config
        return _Clock(ZoneInfo(config.csv.timezone or config.site.timezone), fmt,
                      midnight_ends_day)

    def _long_handler(self) -> RowHandler:
        """Rows of ``time,meter,value[,unit]``, time in ISO 8601."""
        clock = self._clock(None, False)

        def handle(row: list[str], lineno: int) -> None:
            raw = ",".join(row)
            if len(row) not in (3, 4):
                self._reject(Reason.MALFORMED, lineno, "expected time,meter,value[,unit]", raw)
                return
            meter = self.plant.meter_index.get(row[1].strip())
            if meter is None:
                self._reject(Reason.UNKNOWN_METER, lineno,
                             f"no meter {row[1].strip()!r} in plant.toml", raw)
                return
            try:
                moment = clock(row[0].strip())
            except ValueError as exc:
                self._reject(Reason.MALFORMED, lineno, f"time {row[0]!r}: {exc}", raw)
                return
            unit = row[3].strip() if len(row) == 4 else ""
            if unit and unit != self.units[meter]:
                self._reject(Reason.WRONG_UNIT, lineno, f"meter {row[1].strip()} is in "
                             f"{self.units[meter]!r}, the row says {unit!r}", raw)
                return
            self._cell(meter, moment, row[2], lineno, raw)

        return handle

    def _wide_handler(self, header: list[str]) -> RowHandler:
        """Rows of a time and one column per meter; when the header cannot work, every row
        is refused (the first refusal says why in full, the others point back to it)."""
        fmt = self.plant.config.csv
        columns = {name: i for i, name in enumerate(header)}
        mapped = [(columns[m.csv.column], i) for i, m in enumerate(self.plant.meters)
                  if m.csv is not None and m.csv.column in columns]
        if not mapped:
            named = sorted({m.csv.column for m in self.plant.meters if m.csv is not None})
            return self._refuse_all(
                Reason.UNKNOWN_METER,
                "no column of this file is a meter's csv column, so no row can be read "
                f"(file columns: {', '.join(header)}; meters' columns: "
                f"{', '.join(named) or 'none, give meters csv = { column = ... }'}; "
                "or use the long shape, header time,meter,value[,unit])")
        if fmt.time_column not in columns:
            return self._refuse_all(
                Reason.MALFORMED,
                f"no time column {fmt.time_column!r} (set [csv] time_column; file columns: "
                f"{', '.join(header)})")
        time_column = columns[fmt.time_column]
        clock = self._clock(fmt.time_format, fmt.midnight_ends_day)

        def handle(row: list[str], lineno: int) -> None:
            raw = ",".join(row)
            if len(row) != len(header):
                self._reject(Reason.MALFORMED, lineno,
                             f"{len(row)} cells, the header has {len(header)}", raw)
                return
            try:
                moment = clock(row[time_column].strip())
            except ValueError as exc:
                self._reject(Reason.MALFORMED, lineno, f"time {row[time_column]!r}: {exc}", raw)
                return
            for column, meter in mapped:
                self._cell(meter, moment, row[column], lineno, raw)

        return handle

    def _refuse_all(self, reason: Reason, detail: str) -> RowHandler:
        first: list[int] = []

        def refuse(row: list[str], lineno: int) -> None:
            if not first:
                first.append(lineno)
            self._reject(reason, lineno, detail if first[0] == lineno else
                         f"see line {first[0]}", ",".join(row))

        return refuse

    def _cell(self, meter: int, moment: int, cell: str, lineno: int, raw: str) -> None:
        """One value: a reading, a context change, or a refusal."""
        text = cell.strip()
        if text and self.plant.meters[meter].role in CONTEXT_ROLES:
            self._text_change(meter, moment, text)
            return
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            self._reading(meter, moment, value)
        else:
            self._reject(Reason.NOT_A_NUMBER, lineno,
                         f"meter {self._meter_id(meter)}: {text!r}" if text
                         else f"meter {self._meter_id(meter)}: empty", raw)


def _is_long(header: list[str]) -> bool:
    names = [h.lower() for h in header]
    return names[:3] == ["time", "meter", "value"] and names[3:] in ([], ["unit"])
