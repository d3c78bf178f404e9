"""The demo's live table: kg CO₂e per unit per line and SKU, with line and plant totals.

Intensity over any span is Σ kg CO₂e / Σ good units of the closed ``15m`` rows (design brief
§3), never an average of ratios.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

from rich.table import Table

from ..records import NS_PER_S, FactorRow, IntensityRow, Row

WINDOW = "15m"


class IntensityTable:
    """Running totals per (line, SKU) from closed 15-minute rows."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
        self.latest: int | None = None
        self.factors: dict[str, FactorRow] = {}  # basis → the newest factor row

    def add(self, rows: list[Row]) -> None:
        for row in rows:
            if isinstance(row, FactorRow):
                self.factors[row.provenance.basis] = row
            elif isinstance(row, IntensityRow) and row.window.kind == WINDOW:
                t = self.totals[(row.line, row.sku)]
                t[0] += row.good_units
                t[1] += row.energy_kwh
                t[2] += row.co2e_kg
                t[3] += row.scope1_co2e_kg
                self.latest = max(self.latest or 0, row.window.end)

    def render(self, title: str = "carbonline demo") -> Table:
        now = (
            datetime.fromtimestamp(self.latest / NS_PER_S, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            if self.latest else "—"
        )
        table = Table(title=f"{title} — closed windows up to {now}")
        for name in ("line", "SKU", "good units", "energy kWh", "kg CO₂e", "of it Scope 1 kg",
                     "kg CO₂e/unit"):
            table.add_column(name, justify="left" if name in ("line", "SKU") else "right")
        by_line: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
        for (line, sku), t in sorted(self.totals.items()):
            table.add_row(line, sku, *_cells(t))
            by_line[line] = [a + b for a, b in zip(by_line[line], t)]
        table.add_section()
        plant = [0.0, 0.0, 0.0, 0.0]
        for line, t in sorted(by_line.items()):
            table.add_row(line, "all", *_cells(t), style="bold")
            plant = [a + b for a, b in zip(plant, t)]
        table.add_section()
        table.add_row("plant", "all", *_cells(plant), style="bold")
        table.caption = " · ".join(
            f"{basis}-based grid factor {row.kg_per_kwh:.3f} kg CO₂e/kWh "
            f"({row.provenance.provider}: {row.provenance.dataset}"
            f"{', estimated' if row.provenance.estimated else ''})"
            for basis, row in sorted(self.factors.items()))
        return table


def _cells(t: list[float]) -> list[str]:
    units, kwh, co2e, scope1 = t
    per_unit = f"{co2e / units:.4f}" if units > 0 else "—"
    return [f"{units:,.0f}", f"{kwh:,.1f}", f"{co2e:,.1f}", f"{scope1:,.1f}", per_unit]
