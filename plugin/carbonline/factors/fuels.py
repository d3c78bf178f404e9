"""Scope 1 stationary combustion: natural gas, gas/diesel oil, LPG and residual fuel oil.

Every number is in ``factors/data/fuels_ipcc2006.csv`` with its document, table and page:

* CO₂, CH₄, N₂O in kg per TJ on a net calorific value (NCV) basis: IPCC 2006 Guidelines, Vol. 2
  Ch. 2, Table 2.3 (manufacturing industries and construction), pp. 2.18–2.19;
* net calorific values in TJ/Gg (= MJ/kg): IPCC 2006 Guidelines, Vol. 2 Ch. 1, Table 1.2,
  pp. 1.18–1.19;
* densities to turn a metered volume into mass: the IPCC gives none, so approximate averages from
  the Statistical Review of World Energy's conversion factors (natural gas 0.735 kg/m³, gas/diesel
  oil 843, LPG 541, residual fuel oil 991 kg/m³). Pass the supplier's own value when known
  (``density_kg_per_m3=``); it always beats an average.

Energy is always NCV (design brief §3 ``fuel_kwh``). A fuel metered in kWh must be on NCV too:
gas bills often state kWh on the gross (upper) calorific value, and for natural gas NCV is about
10 % below it (IPCC 2006 Vol. 2 Ch. 1, §1.4.1.2) — convert before passing it here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .gwp import DEFAULT_GWP_SET, GwpSet, gwp_set
from .tables import Citation, read_data_csv

MJ_PER_KWH = 3.6
MJ_PER_TJ = 1e6
L_PER_M3 = 1000.0

#: Metered units accepted, with their canonical spelling.
UNITS = {"m3": "m3", "m³": "m3", "L": "L", "l": "L", "kg": "kg", "kWh": "kWh", "kwh": "kWh"}

#: Other names a plant may give a fuel.
ALIASES = {
    "diesel": "gas_diesel_oil", "gas_oil": "gas_diesel_oil", "gasoil": "gas_diesel_oil",
    "fuel_oil": "residual_fuel_oil", "heavy_fuel_oil": "residual_fuel_oil", "hfo": "residual_fuel_oil",
    "liquefied_petroleum_gas": "lpg", "ng": "natural_gas",
}

_QUANTITIES = ("name", "co2", "ch4", "n2o", "ncv", "density")


@dataclass(frozen=True, slots=True)
class Fuel:
    """A fuel's IPCC 2006 defaults and the density used for metered volumes."""

    id: str  # natural_gas, gas_diesel_oil, lpg, residual_fuel_oil
    ipcc_name: str
    co2_kg_per_tj: float
    ch4_kg_per_tj: float
    n2o_kg_per_tj: float
    ncv_mj_per_kg: float  # = TJ/Gg
    density_kg_per_m3: float
    citations: Mapping[str, Citation]  # by quantity: name, co2, ch4, n2o, ncv, density


@dataclass(frozen=True, slots=True)
class Combustion:
    """What burning an amount of fuel gives: NCV energy, gas masses and CO₂e, with the factors
    used. Amounts may be floats or numpy arrays; the results then have the same shape."""

    fuel: str
    amount: object
    unit: str
    mass_kg: object
    energy_kwh: object  # NCV
    co2_kg: object
    ch4_kg: object
    n2o_kg: object
    co2e_kg: object
    gwp_set: str
    ch4_origin: str
    density_kg_per_m3: float | None  # used, for m³/L amounts
    ncv_mj_per_kg: float

    @property
    def energy_tj(self):
        return self.energy_kwh * MJ_PER_KWH / MJ_PER_TJ


@functools.cache
def fuels() -> dict[str, Fuel]:
    """The shipped fuels by id."""
    table: dict[str, dict[str, str]] = {}
    cites: dict[str, dict[str, Citation]] = {}
    for r in read_data_csv("fuels_ipcc2006.csv"):
        table.setdefault(r["fuel"], {})[r["quantity"]] = r["value"]
        cites.setdefault(r["fuel"], {})[r["quantity"]] = Citation(r["document"], r["table"], r["page"], r["note"])
    out = {}
    for fid, q in table.items():
        missing = [k for k in _QUANTITIES if k not in q]
        if missing:
            raise RuntimeError(f"fuels_ipcc2006.csv: {fid} lacks {', '.join(missing)}")
        out[fid] = Fuel(fid, q["name"], float(q["co2"]), float(q["ch4"]), float(q["n2o"]),
                        float(q["ncv"]), float(q["density"]), cites[fid])
    return out


def fuel(name: str | Fuel) -> Fuel:
    """A fuel by id or alias (``diesel``, ``fuel_oil``…); a :class:`Fuel` passes through."""
    if isinstance(name, Fuel):
        return name
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    found = fuels().get(key)
    if found is None:
        raise ValueError(f"unknown fuel {name!r}; known: {', '.join(fuels())} "
                         f"(aliases {', '.join(ALIASES)})")
    return found


def combust(
    fuel_name: str | Fuel,
    amount,
    unit: str,
    gwp: str | GwpSet = DEFAULT_GWP_SET,
    *,
    density_kg_per_m3: float | None = None,
    ncv_mj_per_kg: float | None = None,
    ch4_origin: str = "non_fossil",
) -> Combustion:
    """Energy (kWh NCV), CO₂, CH₄, N₂O (kg) and CO₂e (kg, under ``gwp``) of burning ``amount``
    of a fuel metered in ``unit`` (``m3``, ``L``, ``kg`` or ``kWh`` on NCV).

    ``density_kg_per_m3`` and ``ncv_mj_per_kg`` replace the shipped defaults (a supplier's
    figures); ``ch4_origin`` picks the CH₄ GWP (``non_fossil`` for combustion, see
    :mod:`carbonline.factors.gwp`).
    """
    f = fuel(fuel_name)
    g = gwp_set(gwp)
    u = UNITS.get(unit)
    if u is None:
        raise ValueError(f"unit {unit!r} is not one of m3, L, kg, kWh")
    density = f.density_kg_per_m3 if density_kg_per_m3 is None else float(density_kg_per_m3)
    ncv = f.ncv_mj_per_kg if ncv_mj_per_kg is None else float(ncv_mj_per_kg)
    if density <= 0 or ncv <= 0:
        raise ValueError("density and net calorific value must be > 0")
    a = np.asarray(amount, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a < 0):
        raise ValueError("fuel amounts must be finite and ≥ 0")
    if np.ndim(amount) == 0:
        a = float(amount)

    if u == "m3":
        mass = a * density
    elif u == "L":
        mass = a / L_PER_M3 * density
    elif u == "kg":
        mass = a
    else:  # kWh NCV
        mass = a * MJ_PER_KWH / ncv
    energy_mj = a * MJ_PER_KWH if u == "kWh" else mass * ncv
    energy_tj = energy_mj / MJ_PER_TJ
    co2 = energy_tj * f.co2_kg_per_tj
    ch4 = energy_tj * f.ch4_kg_per_tj
    n2o = energy_tj * f.n2o_kg_per_tj
    return Combustion(
        fuel=f.id, amount=amount, unit=u, mass_kg=mass, energy_kwh=energy_mj / MJ_PER_KWH,
        co2_kg=co2, ch4_kg=ch4, n2o_kg=n2o, co2e_kg=g.co2e(co2, ch4, n2o, ch4_origin),
        gwp_set=g.name, ch4_origin=ch4_origin,
        density_kg_per_m3=density if u in ("m3", "L") else None, ncv_mj_per_kg=ncv,
    )


def unit_factors(fuel_name: str | Fuel, unit: str, gwp: str | GwpSet = DEFAULT_GWP_SET,
                 **overrides) -> Combustion:
    """The factors per one metered unit: ``energy_kwh`` is the NCV in kWh per unit and
    ``co2e_kg`` the kg CO₂e per unit — what a plant.toml ``[fuels.*]`` entry holds
    (``ncv_kwh_per_unit``, ``co2e_kg_per_unit``)."""
    return combust(fuel_name, 1.0, unit, gwp, **overrides)
