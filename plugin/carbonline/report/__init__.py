"""``carbonline report``: the GHG Protocol inventory, ESRS E1 and the plant manager's HTML report
of a period, from the series in InfluxDB. The data model (:mod:`.model`) is what ESG exporters
build on: ``build_inventory(reader, period, plant)`` then ``build_esrs(inventory, plant)``."""

from .esrs import build_esrs
from .ghg import build_inventory, inventory_of
from .model import (Amounts, DayLine, EnergyMix, Esrs, FactorUse, FuelGases, Inventory,
                    LineTotals, Period, Quality, Revenue, SkuTotals)
from .query import SeriesReader

__all__ = ["Amounts", "DayLine", "EnergyMix", "Esrs", "FactorUse", "FuelGases", "Inventory",
           "LineTotals", "Period", "Quality", "Revenue", "SeriesReader", "SkuTotals",
           "build_esrs", "build_inventory", "inventory_of"]
