"""The built-in line-protocol sink: rows → InfluxDB line protocol in a file or on stdout.

Serialisation goes through ``influxdb_client.Point`` (design brief §3: no hand-formatted line
protocol), which escapes tags and writes floats with ``repr`` precision, so every number reads
back exactly as computed. The measurements and fields are the series contract of design brief
§3 (see the README's series table).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TextIO

from influxdb_client import Point, WritePrecision

from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import NS_PER_S, IntensityRow, MachineRow, Row


@hookimpl
def carbonline_sinks(plant: PlantModel, outputs: Sequence[str]) -> list | None:
    return [LineProtocolSink(output) for output in outputs if "://" not in output]


class LineProtocolSink:
    """Writes rows, in the order given, as line protocol with nanosecond timestamps."""

    def __init__(self, output: str) -> None:
        self.name = output
        self._stream: TextIO = (
            sys.stdout if output == "-" else open(output, "w", encoding="utf-8", buffering=1 << 20)
        )

    def write(self, rows: Iterable[Row]) -> None:
        self._stream.writelines(to_line_protocol(row) + "\n" for row in rows)

    def close(self) -> None:
        if self._stream is sys.stdout:
            self._stream.flush()
        else:
            self._stream.close()


def to_line_protocol(row: Row) -> str:
    """One row as one line of line protocol."""
    return to_point(row).to_line_protocol()


def to_point(row: Row) -> Point:
    """The InfluxDB point of a row (measurement, tags and fields per design brief §3)."""
    if isinstance(row, MachineRow):
        point = (
            Point("carbon_machine")
            .tag("site", row.site).tag("line", row.line).tag("machine", row.machine)
            .tag("sku", row.sku).tag("window", row.window.kind)
            .field("energy_kwh", row.energy_kwh).field("co2e_kg", row.co2e_kg)
            .field("good_units", row.good_units)
        )
        _optional(point, "energy_per_unit_kwh", row.energy_per_unit_kwh)
        point.field("allocated_share", row.allocated_share)
    else:
        point = _intensity_point(row)
    return point.field("revision", row.revision).time(row.window.start, WritePrecision.NS)


def _intensity_point(row: IntensityRow) -> Point:
    if row.window.kind == "order":
        point = (
            Point("carbon_order")
            .tag("site", row.site).tag("line", row.line).tag("sku", row.sku)
            .tag("order_id", row.order_id)
        )
    else:
        point = (
            Point("carbon_intensity")
            .tag("site", row.site).tag("line", row.line).tag("sku", row.sku)
            .tag("shift", row.shift).tag("window", row.window.kind)
        )
    (
        point.field("electricity_kwh", row.electricity_kwh).field("fuel_kwh", row.fuel_kwh)
        .field("energy_kwh", row.energy_kwh).field("scope1_co2e_kg", row.scope1_co2e_kg)
        .field("scope2_location_co2e_kg", row.scope2_location_co2e_kg)
        .field("scope2_market_co2e_kg", row.scope2_market_co2e_kg).field("co2e_kg", row.co2e_kg)
        .field("good_units", row.good_units)
    )
    _optional(point, "co2e_per_unit_kg", row.co2e_per_unit_kg)
    _optional(point, "carbon_efficiency_units_per_kg", row.carbon_efficiency_units_per_kg)
    point.field("grid_factor_kg_per_kwh", row.grid_factor_kg_per_kwh)
    point.field("coverage_pct", row.coverage_pct)
    if row.window.kind == "order":
        end = datetime.fromtimestamp(row.window.end / NS_PER_S, timezone.utc)
        point.field("end_time", end.isoformat().replace("+00:00", "Z"))
    return point


def _optional(point: Point, name: str, value: float | None) -> None:
    if value is not None:
        point.field(name, value)
