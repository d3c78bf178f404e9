"""The series carbonline writes (design brief §3), in one place: a result row's measurement,
tags and fields, whatever the sink — line protocol, MQTT JSON, the HTTP API.

Fields are in name order; a field whose value is undefined (intensity with no good units,
efficiency with nothing emitted) is left out. Energies in kWh, emissions in kg CO₂e,
``coverage_pct`` in percent, ``revision`` an integer, the factor in kg CO₂e/kWh.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .records import NS_PER_S, AlertRow, FactorRow, HealthRow, IntensityRow, MachineRow, Row

#: Each measurement's tags, in the order :func:`tags_of` lists them.
TAGS = {
    "carbon_intensity": ("site", "line", "sku", "shift", "window"),
    "carbon_order": ("site", "line", "sku", "order_id"),
    "carbon_machine": ("site", "line", "machine", "sku", "window"),
    "carbon_factor": ("zone", "provider", "basis", "type"),
    "carbon_alert": ("site", "line", "severity", "cause"),
    "carbonline_health": ("site", "component", "line"),
}

Value = float | int | bool | str


def measurement_of(row: Row) -> str:
    if isinstance(row, IntensityRow):
        return "carbon_order" if row.window.kind == "order" else "carbon_intensity"
    if isinstance(row, MachineRow):
        return "carbon_machine"
    if isinstance(row, FactorRow):
        return "carbon_factor"
    if isinstance(row, AlertRow):
        return "carbon_alert"
    return "carbonline_health"


def tag_values(row: Row) -> tuple[str, ...]:
    """The row's tag values in :data:`TAGS` order (``line`` of a plant-wide health row is "")."""
    if isinstance(row, IntensityRow):
        if row.window.kind == "order":
            return (row.site, row.line, row.sku, row.order_id)
        return (row.site, row.line, row.sku, row.shift, row.window.kind)
    if isinstance(row, MachineRow):
        return (row.site, row.line, row.machine, row.sku, row.window.kind)
    if isinstance(row, FactorRow):
        p = row.provenance
        return (row.zone, p.provider, p.basis, p.type)
    if isinstance(row, AlertRow):
        return (row.site, row.line, row.severity, row.cause)
    return (row.site, row.component, row.line)


def time_of(row: Row) -> int:
    """The point's time, ns UTC: the window (or order) start; the factor's window start."""
    if isinstance(row, FactorRow):
        return row.start
    if isinstance(row, (HealthRow, AlertRow)):
        return row.time
    return row.window.start


def fields_of(row: Row) -> dict[str, Value | None]:
    """The row's fields in name order; ``None`` marks a field that is left out. Float fields
    are always floats (an InfluxDB field keeps the type it was first written with: 120 written
    as an integer would refuse 120.5 later)."""
    if isinstance(row, IntensityRow):
        order = row.window.kind == "order"
        return {
            "baseline_co2e_per_unit_kg": _float(row.baseline_co2e_per_unit_kg),
            "carbon_efficiency_units_per_kg": _float(row.carbon_efficiency_units_per_kg),
            "co2e_kg": _float(row.co2e_kg),
            "co2e_per_unit_kg": _float(row.co2e_per_unit_kg),
            "coverage_pct": _float(row.coverage_pct),
            "deviation_pct": _float(row.deviation_pct),
            "electricity_kwh": _float(row.electricity_kwh),
            "end_time": rfc3339(row.window.end) if order else None,
            "energy_kwh": _float(row.energy_kwh),
            "fuel_kwh": _float(row.fuel_kwh),
            "good_units": _float(row.good_units),
            "grid_factor_kg_per_kwh": _float(row.grid_factor_kg_per_kwh),
            "revision": int(row.revision),
            "scope1_co2e_kg": _float(row.scope1_co2e_kg),
            "scope2_location_co2e_kg": _float(row.scope2_location_co2e_kg),
            "scope2_market_co2e_kg": _float(row.scope2_market_co2e_kg),
            "scrap_units": _float(row.scrap_units),
            "threshold_co2e_per_unit_kg": _float(row.threshold_co2e_per_unit_kg),
        }
    if isinstance(row, MachineRow):
        return {
            "allocated_share": _float(row.allocated_share),
            "baseline_energy_per_unit_kwh": _float(row.baseline_energy_per_unit_kwh),
            "co2e_kg": _float(row.co2e_kg),
            "deviation_pct": _float(row.deviation_pct),
            "energy_kwh": _float(row.energy_kwh),
            "energy_per_unit_kwh": _float(row.energy_per_unit_kwh),
            "good_units": _float(row.good_units),
            "revision": int(row.revision),
        }
    if isinstance(row, FactorRow):
        p = row.provenance
        return {"dataset": p.dataset, "estimated": p.estimated,
                "kg_per_kwh": _float(row.kg_per_kwh), "year": p.year}
    if isinstance(row, AlertRow):
        return {
            "alert_id": row.alert_id,
            "baseline_co2e_per_unit_kg": _float(row.baseline_co2e_per_unit_kg),
            "co2e_per_unit_kg": _float(row.co2e_per_unit_kg),
            "contribution_pct": _float(row.contribution_pct),
            "detector": row.detector,
            "machine": row.machine,
            "message": row.message,
            "sku": row.sku,
            "state": row.state,
            "threshold_co2e_per_unit_kg": _float(row.threshold_co2e_per_unit_kg),
        }
    return dict(sorted(row.fields.items()))


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def as_json(row: Row) -> dict[str, Value]:
    """A row as a JSON object (MQTT payloads, the HTTP API): ``time`` (RFC 3339), the tags
    (an empty one left out) and the defined fields."""
    payload: dict[str, Value] = {"time": rfc3339(time_of(row))}
    payload.update((name, value) for name, value in
                   zip(TAGS[measurement_of(row)], tag_values(row)) if value)
    payload.update((name, value) for name, value in fields_of(row).items() if value is not None)
    return payload


def rfc3339(ns: int) -> str:
    """``2026-03-02T06:15:00Z``; fractional seconds only when the time has them."""
    seconds, rest = divmod(int(ns), NS_PER_S)
    stamp = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rest:09d}".rstrip("0") + "Z" if rest else f"{stamp}Z"
