"""Sums of ``carbon_intensity``/``carbon_order`` fields and the intensity they give.

Intensity over anything longer than one window is Σ kg CO₂e / Σ good units (design brief §3),
never an average of the windows' ratios: a quiet minute with 2 units must not weigh as much as
a busy one with 200. Every footprint the API answers — an order, a period, the shift so far —
is a list of :class:`Piece` values (from rows in memory or sums read from InfluxDB) added up
by :func:`totals_of`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from ..records import IntensityRow
from ..series import fields_of

#: The additive fields (kWh, kg CO₂e, units); everything else is derived from these.
SUMMED = ("co2e_kg", "electricity_kwh", "energy_kwh", "fuel_kwh", "good_units",
          "scope1_co2e_kg", "scope2_location_co2e_kg", "scope2_market_co2e_kg")


@dataclass(frozen=True, slots=True)
class Piece:
    """One line × SKU's sums over ``[start, end)`` ns: a row, or a group of rows summed by
    InfluxDB."""

    line: str
    sku: str
    start: int
    end: int
    sums: dict[str, float]


def piece_of(row: IntensityRow) -> Piece:
    """A result row as a piece (its window's span and its additive fields)."""
    fields = fields_of(row)
    return Piece(row.line, row.sku, row.window.start, row.window.end,
                 {name: float(fields[name] or 0.0) for name in SUMMED})


class Totals(BaseModel):
    """Energy, emissions and good units summed over the pieces, and the intensity they give."""

    co2e_kg: float = Field(description="kg CO₂e, Scope 1 + Scope 2 location-based (the "
                           "operational figure)")
    scope1_co2e_kg: float = Field(description="kg CO₂e from fuels burnt on site")
    scope2_location_co2e_kg: float = Field(description="kg CO₂e of electricity, grid average")
    scope2_market_co2e_kg: float = Field(description="kg CO₂e of electricity after "
                                         "certificates and contracts")
    energy_kwh: float = Field(description="kWh, electricity + fuel (net calorific value)")
    electricity_kwh: float
    fuel_kwh: float
    good_units: float = Field(description="good units made (the line's production unit)")
    co2e_per_unit_kg: float | None = Field(
        description="Σ co2e_kg / Σ good_units, kg CO₂e per good unit; null when no good unit "
        "was made")


def totals_of(pieces: Iterable[Piece]) -> Totals:
    """The pieces' fields added up (exactly, with ``math.fsum``) and the intensity of the sum."""
    pieces = list(pieces)
    sums = {name: math.fsum(p.sums.get(name, 0.0) for p in pieces) for name in SUMMED}
    units = sums["good_units"]
    return Totals(**sums, co2e_per_unit_kg=sums["co2e_kg"] / units if units > 0 else None)


def names(pieces: Sequence[Piece], attribute: str) -> list[str]:
    """The distinct lines or SKUs of ``pieces``, sorted (an empty SKU, no SKU signal, left
    out)."""
    return sorted({getattr(p, attribute) for p in pieces} - {""})
