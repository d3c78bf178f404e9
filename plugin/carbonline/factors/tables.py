"""Static annual grid emission factor tables: the ones carbonline ships, and newer ones a plant
drops into a directory (design brief §3 zones, §4 "every shipped factor value cites its document").

A table is a CSV file, one row per zone, with these columns (the shipped files in
``factors/data/`` are examples; ``factors/data/README.md`` says where each number comes from)::

    zone        design-brief §3 code: ``DE``, ``US-TX``, ``SE-SE3``
    kg_per_kwh  kg CO₂e (or kg CO₂, see ``gases``) per kWh
    year        the year the value describes
    dataset     name and version of the dataset
    source      where the number was taken from (citation, address)
    licence     the licence the number is used under
    basis       ``location`` or ``market`` (GHG Protocol Scope 2 methods)
    type        ``direct`` (combustion), ``lifecycle`` or ``unknown``
    gases       ``CO2e``, or ``CO2 only``
    flags       quality remarks separated by ``;`` (may be empty)

and optionally ``name`` (the zone's name), ``source_value`` and ``source_unit`` (the number as the
source printed it, before conversion). Marginal factors are refused: they are not inventory
factors and never used for Scope 2.

Which row answers :meth:`GridFactorTable.factor`:

* one row is kept per zone and dataset: the newest year wins; at equal years a user row replaces
  a shipped one (a correction); two user rows with the same zone, dataset and year but different
  values are an error, since nothing says which is right;
* across datasets, user rows come before shipped ones, then the newest year, then the order the
  datasets were loaded (shipped: Nordic bidding zones, eGRID states, OWID countries).
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..records import FactorSeries, Provenance

REQUIRED_COLUMNS = (
    "zone", "kg_per_kwh", "year", "dataset", "source", "licence", "basis", "type", "gases", "flags",
)
OPTIONAL_COLUMNS = ("name", "source_value", "source_unit")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

BASES = ("location", "market")
TYPES = ("direct", "lifecycle", "unknown")

#: The shipped tables, in the order their datasets rank at equal years.
SHIPPED_TABLES = ("grid_nordic_codecarbon.csv", "grid_egrid2016.csv", "grid_owid_ember.csv")

#: A grid factor above this (kg/kWh) is taken for a unit mistake (g/kWh, lb/MWh): the most
#: carbon-intensive national grids are below 1.5 kg/kWh even on a lifecycle basis.
MAX_KG_PER_KWH = 2.0
YEARS = (1990, 2100)

#: ISO 3166-2:US codes: the 50 states, the District of Columbia and the six outlying areas.
US_SUBDIVISIONS = frozenset(
    "AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE "
    "NH NJ NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY "
    "AS GU MP PR UM VI".split()
)

#: Bidding zones written ``<country>-<zone>`` (design brief §3). Finland is one bidding zone and
#: is written ``FI``, like any country.
BIDDING_ZONES = frozenset(
    [f"SE-SE{i}" for i in range(1, 5)] + [f"NO-NO{i}" for i in range(1, 6)] + ["DK-DK1", "DK-DK2"]
)

_DATA = "data"


# ---------------------------------------------------------------------------------------------
# citations and the package's data files


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a shipped value is printed: document, table and page."""

    document: str
    table: str
    page: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.document}, {self.table}, p. {self.page}"


def data_file(name: str):
    """A file of ``carbonline/factors/data/`` as an importlib.resources Traversable."""
    return resources.files("carbonline.factors") / _DATA / name


def read_data_csv(name: str) -> list[dict[str, str]]:
    """The rows of a shipped CSV data file, as dicts of stripped strings."""
    with data_file(name).open("r", encoding="utf-8-sig", newline="") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


# ---------------------------------------------------------------------------------------------
# zones


@functools.cache
def iso_alpha3_to_alpha2() -> dict[str, str]:
    """ISO 3166-1 alpha-3 → alpha-2, all 249 assigned codes (``factors/data/iso3166_1.csv``)."""
    return {r["alpha3"]: r["alpha2"] for r in read_data_csv("iso3166_1.csv")}


@functools.cache
def iso_alpha2() -> frozenset[str]:
    """The assigned ISO 3166-1 alpha-2 country codes."""
    return frozenset(iso_alpha3_to_alpha2().values())


def zone_problem(code: object) -> str | None:
    """Why ``code`` is not a design-brief §3 zone, or ``None`` when it is one."""
    if not isinstance(code, str) or not code:
        return "a zone must be a non-empty string such as 'DE', 'US-TX' or 'SE-SE3'"
    if code != code.strip():
        return f"zone {code!r} has surrounding spaces"
    upper = code.upper()
    if code != upper and (upper in iso_alpha2() or _is_subzone(upper)):
        return f"zone {code!r} must be upper case: {upper!r}"
    if re.fullmatch(r"[A-Z]{2}", code):
        if code in iso_alpha2():
            return None
        return f"{code!r} is not an assigned ISO 3166-1 alpha-2 country code"
    if re.fullmatch(r"[A-Z]{3}", code):
        alpha2 = iso_alpha3_to_alpha2().get(code)
        hint = f": write {alpha2!r}" if alpha2 else ""
        return f"{code!r} looks like an ISO alpha-3 code; zones use ISO 3166-1 alpha-2{hint}"
    if _is_subzone(code):
        return None
    if code.startswith("US-"):
        return f"{code!r} is not a US state, DC or outlying-area code (ISO 3166-2:US)"
    if re.fullmatch(r"(SE|NO|DK)\d", code):
        return f"bidding zones are written with their country: {code[:2]}-{code}"
    return (f"{code!r} is not a zone: use ISO 3166-1 alpha-2 ('DE'), 'US-XX' for US states or a "
            f"bidding zone ({', '.join(sorted(BIDDING_ZONES))})")


def _is_subzone(code: str) -> bool:
    return code in BIDDING_ZONES or (code.startswith("US-") and code[3:] in US_SUBDIVISIONS)


def is_valid_zone(code: object) -> bool:
    """Whether ``code`` is a zone as design brief §3 writes them: ISO 3166-1 alpha-2 for
    countries (``DE``), ``US-XX`` for US states (and DC, outlying areas), ``SE-SE3``/``NO-NO1``/
    ``DK-DK1`` for bidding zones."""
    return zone_problem(code) is None


def check_zone(code: object) -> str:
    """``code`` unchanged when it is a valid zone; otherwise :class:`ValueError` saying why."""
    problem = zone_problem(code)
    if problem:
        raise ValueError(problem)
    return code  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# rows and tables


class FactorTableError(ValueError):
    """A grid factor table that cannot be used, with the file, line and column at fault."""

    def __init__(self, path: str, line: int | None, column: str | None, message: str):
        self.path, self.line, self.column, self.message = path, line, column, message
        where = path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class GridFactorRow:
    """One zone's annual grid factor, with what an auditor needs to find the number again."""

    zone: str
    kg_per_kwh: float
    year: int
    dataset: str
    source: str
    licence: str
    basis: str
    type: str
    gases: str
    flags: tuple[str, ...] = ()
    name: str = ""
    source_value: str = ""
    source_unit: str = ""
    origin: str = ""  # file and line the row was read from
    user: bool = False  # from a plant's own table directory, not shipped

    def provenance(self, provider: str = "table", estimated: bool = False) -> Provenance:
        """The record-level provenance of this value (``type`` may be ``unknown``)."""
        return Provenance(provider=provider, dataset=self.dataset, basis=self.basis,
                          type=self.type, year=self.year, licence=self.licence,
                          estimated=estimated)

    def series(self, start: int, provider: str = "table", estimated: bool = False) -> FactorSeries:
        """This value as a one-step :class:`FactorSeries` in force from ``start`` (ns, UTC)."""
        return FactorSeries(self.zone, np.array([start], dtype=np.int64),
                            np.array([self.kg_per_kwh]), self.provenance(provider, estimated))


@dataclass
class GridFactorTable:
    """Grid factor rows by zone and dataset; see the module docstring for which row wins."""

    _rows: dict[tuple[str, str], GridFactorRow] = field(default_factory=dict)
    _dataset_rank: dict[str, int] = field(default_factory=dict)

    # -- building

    @classmethod
    def shipped(cls) -> GridFactorTable:
        """The tables shipped in ``carbonline/factors/data/``."""
        return cls().with_rows(_shipped_rows())

    @classmethod
    def load(cls, directory: str | os.PathLike[str] | None = None) -> GridFactorTable:
        """The shipped tables plus, when given, every ``*.csv`` in ``directory``."""
        table = cls.shipped()
        return table.with_directory(directory) if directory is not None else table

    def with_directory(self, directory: str | os.PathLike[str]) -> GridFactorTable:
        """A new table with the ``*.csv`` files of a plant's factor directory added (in name
        order). Raises :class:`FactorTableError` for a missing directory or a malformed file."""
        path = Path(directory)
        if not path.is_dir():
            raise FactorTableError(str(path), None, None, "factor table directory not found")
        rows: list[GridFactorRow] = []
        for file in sorted(path.glob("*.csv")):
            rows += read_table(file, user=True)
        return self.with_rows(rows)

    def with_rows(self, rows: Iterable[GridFactorRow]) -> GridFactorTable:
        """A new table with ``rows`` merged in (newest year per zone and dataset)."""
        new = GridFactorTable(dict(self._rows), dict(self._dataset_rank))
        for row in rows:
            new._add(row)
        return new

    def _add(self, row: GridFactorRow) -> None:
        self._dataset_rank.setdefault(row.dataset, len(self._dataset_rank))
        key = (row.zone, row.dataset)
        old = self._rows.get(key)
        if old is None or row.year > old.year:
            self._rows[key] = row
        elif row.year == old.year:
            if row.user and not old.user:
                self._rows[key] = row
            elif row.user == old.user and row.kg_per_kwh != old.kg_per_kwh:
                raise FactorTableError(
                    row.origin.rsplit(":", 1)[0], _line(row.origin), "year",
                    f"{row.zone} {row.year} of dataset {row.dataset!r} is given twice with "
                    f"different values ({old.kg_per_kwh} at {old.origin}, {row.kg_per_kwh} here)",
                )

    # -- asking

    def candidates(self, zone: str) -> list[GridFactorRow]:
        """Every dataset's row for ``zone``, best first."""
        rows = [r for (z, _), r in self._rows.items() if z == zone]
        return sorted(rows, key=lambda r: (not r.user, -r.year, self._dataset_rank[r.dataset]))

    def factor(self, zone: str, dataset: str | None = None) -> GridFactorRow | None:
        """The row for ``zone`` (from ``dataset`` when given), or ``None`` if no table has it."""
        if dataset is not None:
            return self._rows.get((zone, dataset))
        rows = self.candidates(zone)
        return rows[0] if rows else None

    def zones(self) -> list[str]:
        """Every zone some table covers, sorted."""
        return sorted({z for z, _ in self._rows})

    def datasets(self) -> list[str]:
        """The datasets present, in load order."""
        present = {d for _, d in self._rows}
        return [d for d in sorted(self._dataset_rank, key=self._dataset_rank.get) if d in present]

    def __iter__(self) -> Iterator[GridFactorRow]:
        return iter(sorted(self._rows.values(), key=lambda r: (r.zone, self._dataset_rank[r.dataset])))

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, zone: object) -> bool:
        return any(z == zone for z, _ in self._rows)


def _line(origin: str) -> int | None:
    tail = origin.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


@functools.cache
def _shipped_rows() -> tuple[GridFactorRow, ...]:
    rows: list[GridFactorRow] = []
    for name in SHIPPED_TABLES:
        text = data_file(name).read_text(encoding="utf-8-sig")
        rows += parse_table(text, origin=f"carbonline/factors/data/{name}", user=False)
    return tuple(rows)


def read_table(path: str | os.PathLike[str], user: bool = True) -> list[GridFactorRow]:
    """The rows of one grid factor CSV file; :class:`FactorTableError` names what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise FactorTableError(str(path), None, None, f"not UTF-8 text ({e.reason})") from None
    return parse_table(text, origin=str(path), user=user)


def parse_table(text: str, origin: str, user: bool = True) -> list[GridFactorRow]:
    """Parse and check a grid factor table given as CSV text; ``origin`` names it in errors."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise FactorTableError(origin, 1, None, "empty file: expected a header line") from None
    except csv.Error as e:
        raise FactorTableError(origin, reader.line_num, None, f"not valid CSV: {e}") from None
    for name in header:
        if name not in COLUMNS:
            raise FactorTableError(origin, 1, name, f"unknown column; columns are {', '.join(COLUMNS)}")
        if header.count(name) > 1:
            raise FactorTableError(origin, 1, name, "column given twice")
    for name in REQUIRED_COLUMNS:
        if name not in header:
            raise FactorTableError(origin, 1, name, "required column missing")

    rows: list[GridFactorRow] = []
    seen: dict[tuple[str, str, int], int] = {}
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise FactorTableError(origin, reader.line_num, None, f"not valid CSV: {e}") from None
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise FactorTableError(origin, line, None,
                                   f"expected {len(header)} fields, found {len(fields)}")
        rec = dict(zip(header, (f.strip() for f in fields)))
        row = _row(rec, origin, line, user)
        key = (row.zone, row.dataset, row.year)
        if key in seen:
            raise FactorTableError(origin, line, "zone",
                                   f"{row.zone} {row.year} of dataset {row.dataset!r} already "
                                   f"given on line {seen[key]}")
        seen[key] = line
        rows.append(row)
    return rows


def _row(rec: dict[str, str], origin: str, line: int, user: bool) -> GridFactorRow:
    def fail(column: str, message: str) -> FactorTableError:
        return FactorTableError(origin, line, column, message)

    problem = zone_problem(rec["zone"])
    if problem:
        raise fail("zone", problem)

    raw = rec["kg_per_kwh"]
    try:
        value = float(raw)
    except ValueError:
        raise fail("kg_per_kwh", f"{raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise fail("kg_per_kwh", f"{raw!r} is not a finite number ≥ 0")
    if value > MAX_KG_PER_KWH:
        raise fail("kg_per_kwh", f"{raw} kg/kWh is implausible for a grid (the most intensive "
                   f"are below 1.5); is the value in g/kWh or lb/MWh?")

    raw = rec["year"]
    if not re.fullmatch(r"\d{4}", raw) or not YEARS[0] <= int(raw) <= YEARS[1]:
        raise fail("year", f"{raw!r} is not a year between {YEARS[0]} and {YEARS[1]}")

    for column in ("dataset", "source", "licence", "gases"):
        if not rec[column]:
            raise fail(column, "empty: every factor must cite its dataset, source, licence and gases")
    if rec["basis"] not in BASES:
        raise fail("basis", f"{rec['basis']!r} is not one of {', '.join(BASES)}")
    if rec["type"] == "marginal":
        raise fail("type", "marginal factors are not inventory factors and are never used for "
                   "Scope 2; keep them out of grid factor tables")
    if rec["type"] not in TYPES:
        raise fail("type", f"{rec['type']!r} is not one of {', '.join(TYPES)}")

    return GridFactorRow(
        zone=rec["zone"], kg_per_kwh=value, year=int(raw), dataset=rec["dataset"],
        source=rec["source"], licence=rec["licence"], basis=rec["basis"], type=rec["type"],
        gases=rec["gases"], flags=tuple(f.strip() for f in rec["flags"].split(";") if f.strip()),
        name=rec.get("name", ""), source_value=rec.get("source_value", ""),
        source_unit=rec.get("source_unit", ""), origin=f"{origin}:{line}", user=user,
    )


@functools.cache
def grid_tables(directory: str | None = None) -> GridFactorTable:
    """The shipped tables plus a plant's own directory (when given), loaded once per process."""
    return GridFactorTable.load(directory)
