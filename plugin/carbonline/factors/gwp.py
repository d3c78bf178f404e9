"""GWP100 sets for CO₂e: IPCC AR5 and AR6 (design brief §4: "a selectable GWP set").

Values and their citations are in ``factors/data/gwp100.csv``:

* AR5: IPCC AR5 WG I, Ch. 8, Table 8.7 (p. 714), without climate–carbon feedbacks:
  CH₄ 28 (fossil 30, per the table's footnote), N₂O 265.
* AR6: IPCC AR6 WG I, Ch. 7, Table 7.15 (p. 1017): CH₄ fossil 29.8, CH₄ non-fossil 27.0,
  N₂O 273.

Which CH₄ value for combustion: the IPCC 2006 CO₂ factors count all the fuel's carbon as CO₂
(oxidation factor 1, Vol. 2 Ch. 1 Table 1.4), so the carbon of the CH₄ a burner emits is
already in the CO₂ figure. The fossil-methane GWP adds the CO₂ that fossil methane becomes; used
for combustion it would count that carbon twice. So combustion CH₄ uses the non-fossil value
(AR5 28, AR6 27.0), as the GHG Protocol's GWP table advises; the fossil value is for fugitive
fossil methane (leaks, venting) and is available as ``ch4_origin="fossil"``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from .tables import Citation, read_data_csv

GASES = ("CO2", "CH4_fossil", "CH4_non_fossil", "N2O")
CH4_ORIGINS = ("non_fossil", "fossil")
DEFAULT_GWP_SET = "AR6"


@dataclass(frozen=True, slots=True)
class GwpSet:
    """One set of 100-year global warming potentials, each value with its citation."""

    name: str  # "AR5", "AR6"
    values: Mapping[str, float]
    citations: Mapping[str, Citation]

    def __getitem__(self, gas: str) -> float:
        try:
            return self.values[gas]
        except KeyError:
            raise KeyError(f"{self.name} has no GWP for {gas!r}; gases are {', '.join(GASES)}") from None

    def ch4(self, origin: str = "non_fossil") -> float:
        """The CH₄ GWP for methane of ``origin`` (``non_fossil`` for combustion, see module doc)."""
        if origin not in CH4_ORIGINS:
            raise ValueError(f"CH4 origin {origin!r} is not one of {', '.join(CH4_ORIGINS)}")
        return self[f"CH4_{origin}"]

    def co2e(self, co2_kg, ch4_kg, n2o_kg, ch4_origin: str = "non_fossil"):
        """kg CO₂e of the given gas masses (floats or numpy arrays, kg)."""
        return co2_kg * self["CO2"] + ch4_kg * self.ch4(ch4_origin) + n2o_kg * self["N2O"]


@functools.cache
def gwp_sets() -> dict[str, GwpSet]:
    """Every shipped set by name (``AR5``, ``AR6``)."""
    values: dict[str, dict[str, float]] = {}
    cites: dict[str, dict[str, Citation]] = {}
    for r in read_data_csv("gwp100.csv"):
        values.setdefault(r["set"], {})[r["gas"]] = float(r["value"])
        cites.setdefault(r["set"], {})[r["gas"]] = Citation(r["document"], r["table"], r["page"], r["note"])
    return {name: GwpSet(name, values[name], cites[name]) for name in values}


def gwp_set(name: str | GwpSet = DEFAULT_GWP_SET) -> GwpSet:
    """The set called ``name`` (case-insensitive: ``"AR5"``, ``"ar6"``); a set passes through."""
    if isinstance(name, GwpSet):
        return name
    sets = gwp_sets()
    found = sets.get(str(name).strip().upper())
    if found is None:
        raise ValueError(f"unknown GWP set {name!r}; choose one of {', '.join(sets)}")
    return found
