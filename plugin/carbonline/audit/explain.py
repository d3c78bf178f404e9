"""``carbonline audit explain``: one number traced to its readings, factors and formula, and
recomputed from the ledger record alone.

The formula (the calculator's, written out over a window's terms; meter amounts in kWh for
electricity, the fuel's unit for fuel, units for counters):

- ``electricity_kwh`` = Σ attributed kWh of the electricity meters (own meters in full, shared
  utilities and the site meter's unmetered remainder by their allocation key)
- ``scope2_location_co2e_kg`` = Σ over factor segments of kWh × location factor (kg CO₂e/kWh),
  and ``scope2_market_co2e_kg`` the same with the market factor (after certificates)
- ``fuel_kwh`` = Σ attributed fuel × NCV (kWh/unit); ``scope1_co2e_kg`` = Σ attributed fuel ×
  kg CO₂e/unit
- ``good_units`` = Σ counter amounts × sign (+1 good/total, −1 scrap where it is subtracted)
- ``co2e_kg`` = Scope 1 + Scope 2 location-based; ``co2e_per_unit_kg`` = co2e_kg / good_units

Sums are taken in a different order from the engine's (per meter and segment instead of bin by
bin), so a recomputed value equals the stored one to rounding: within a relative 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .trail import utc

#: Relative difference under which a recomputed value equals the stored one (float rounding).
REL_TOLERANCE = 1e-9
#: Absolute difference under which values near zero are equal (kg, kWh, units).
ABS_TOLERANCE = 1e-9
#: Factor segments shown in full; longer lists (a day at minute-level factors) are summarised.
SHOWN_SEGMENTS = 12

FIELDS = ("electricity_kwh", "fuel_kwh", "energy_kwh", "scope1_co2e_kg",
          "scope2_location_co2e_kg", "scope2_market_co2e_kg", "co2e_kg", "good_units",
          "co2e_per_unit_kg")


def recompute(body: dict) -> dict[str, float | None]:
    """A record's results from its terms alone (see the module docstring for the formula)."""
    meters = body["meters"]
    electric = [m["attributed"] for m in meters if m["term"] in ("electricity",
                                                               "unmetered_remainder")]
    fuels = [m for m in meters if m["term"] == "fuel"]
    segments = body["factors"]["segments"]
    out: dict[str, float | None] = {
        "electricity_kwh": math.fsum(electric),
        "fuel_kwh": math.fsum(m["attributed"] * m["ncv_kwh_per_unit"] for m in fuels),
        "scope1_co2e_kg": math.fsum(m["attributed"] * m["co2e_kg_per_unit"] for m in fuels),
        "scope2_location_co2e_kg": math.fsum(s["kwh"] * s["location_kg_per_kwh"]
                                             for s in segments),
        "scope2_market_co2e_kg": math.fsum(s["kwh"] * s["market_kg_per_kwh"] for s in segments),
        "good_units": math.fsum(m["attributed"] * m["sign"] for m in meters
                                if m["term"] == "units"),
        "segments_kwh": math.fsum(s["kwh"] for s in segments),
    }
    out["energy_kwh"] = out["electricity_kwh"] + out["fuel_kwh"]
    out["co2e_kg"] = out["scope1_co2e_kg"] + out["scope2_location_co2e_kg"]
    units = out["good_units"]
    out["co2e_per_unit_kg"] = out["co2e_kg"] / units if units > 0 else None
    return out


def same(a: float | None, b: float | None) -> bool:
    """Equal to float rounding (both ``None`` counts as equal)."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)


@dataclass(frozen=True)
class Check:
    """One result field: stored in the record, recomputed from its terms, and whether equal."""

    field: str
    stored: float | None
    recomputed: float | None

    @property
    def ok(self) -> bool:
        return same(self.stored, self.recomputed)


def check(body: dict) -> list[Check]:
    """Every result field of a record against its recomputation; also the segments' kWh
    against the meters' (they are two sums of the same terms)."""
    again = recompute(body)
    result = body["result"]
    checks = [Check(f, result.get(f), again[f]) for f in FIELDS]
    checks.append(Check("segments_kwh = electricity_kwh", again["electricity_kwh"],
                        again["segments_kwh"]))
    return checks


def _num(value: float | None, digits: int = 6) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def render(body: dict, older: list[int] = ()) -> str:
    """The trace of one record as text: meters, factors with sources, formula, verdict."""
    w = body["window"]
    calc = body["calculation"]
    lines = [
        f"{body['site']} / line {body['line']} / SKU {body['sku']}"
        + (f" / order {body['order_id']}" if body["order_id"] else "")
        + f" — {w['kind']} window {w['start_utc']} → {w['end_utc']} (shift {body['shift']})",
        f"ledger record {body['seq']}, revision {body['revision']}"
        + (f" (earlier revisions: records {', '.join(map(str, older))})" if older else "")
        + f"; carbonline {calc['carbonline']}, calculation version {calc['calc_version']}, "
          f"{calc['resolution_s']} s bins, GWP {calc['gwp']}",
        "",
        "Meters (amount measured in the window → part attributed to this line):",
    ]
    for m in body["meters"]:
        share = m["attributed"] / m["amount"] if m["amount"] else 1.0
        what = {"electricity": "electricity", "unmetered_remainder": "unmetered remainder",
                "fuel": f"fuel {m.get('fuel', '')}",
                "units": "scrap counter" if m.get("scrap") else "unit counter"}[m["term"]]
        text = (f"  {m['meter']:<16} {what:<22} machine {m['machine'] or '—':<14} "
                f"{_num(m['amount'])} {m['unit']} → {_num(m['attributed'])} {m['unit']}")
        if "allocation" in m:
            text += f" (share {share:.4f}, key {m['allocation']['key']})"
        if m["term"] == "fuel":
            text += (f"; NCV {_num(m['ncv_kwh_per_unit'])} kWh/{m['unit']}, "
                     f"{_num(m['co2e_kg_per_unit'])} kg CO₂e/{m['unit']} ({m['factor_source']})")
        if m["term"] == "units" and m["sign"] != 1:
            text += " × −1 (good = total − scrap)" if m["sign"] < 0 else " (quality rate only)"
        lines.append(text)
    factors = body["factors"]
    lines += ["", f"Grid factors, zone {factors['zone']}:"]
    for basis in ("location", "market"):
        p = factors.get(basis)
        if p:
            lines.append(f"  {basis}-based: {p['dataset']} (provider {p['provider']}, type "
                         f"{p['type']}, year {p['year'] or '—'}"
                         + (", estimated" if p["estimated"] else "") + ")")
    for i in factors["instruments"]:
        lines.append(f"  instrument {i['name']}: {i['mwh']} MWh at {i['kg_per_kwh']} "
                     f"kg CO₂e/kWh, {i['valid_from']} → {i['valid_to']}")
    segments = factors["segments"]
    lines.append(f"  {len(segments)} factor segment(s) (kWh × kg CO₂e/kWh):")
    for s in segments[:SHOWN_SEGMENTS]:
        lines.append(f"    {utc(s['from'])} → {utc(s['to'])}: {_num(s['kwh'])} kWh × "
                     f"{_num(s['location_kg_per_kwh'])} (location), × "
                     f"{_num(s['market_kg_per_kwh'])} (market)")
    if len(segments) > SHOWN_SEGMENTS:
        lines.append(f"    … {len(segments) - SHOWN_SEGMENTS} more (all used below)")
    lines += ["", "Formula:",
              "  scope2_location_co2e_kg = Σ segment kWh × location factor",
              "  scope2_market_co2e_kg   = Σ segment kWh × market factor",
              "  scope1_co2e_kg          = Σ fuel attributed × kg CO₂e per unit",
              "  co2e_kg                 = scope1 + scope2 location-based",
              "  co2e_per_unit_kg        = co2e_kg / good_units (good_units = Σ counters × sign)",
              "", "Recomputed from this record alone:"]
    checks = check(body)
    for c in checks:
        mark = "equal" if c.ok else "DIFFERENT"
        lines.append(f"  {c.field:<32} stored {_num(c.stored, 10):>16}  recomputed "
                     f"{_num(c.recomputed, 10):>16}  {mark}")
    verdict = all(c.ok for c in checks)
    lines += ["", "The record's result " + ("equals" if verdict else "does NOT equal")
              + f" its recomputation (relative tolerance {REL_TOLERANCE:g})."]
    return "\n".join(lines)
