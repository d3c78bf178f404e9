"""Where each simulated meter lives on the wire, one naming for every protocol: MQTT topics
(a unified namespace), OPC UA node ids, and the meter mappings plant.toml gives them."""

from __future__ import annotations

from .model import Layout

#: The unit each meter kind is published in.
UNITS = {"power": "kW", "energy_counter": "kWh", "fuel_counter": "m3",
         "units_counter": "units", "scrap_counter": "units"}
#: OPC UA namespace URI of the simulated PLC (its index is 2 on a fresh asyncua server).
NAMESPACE = "urn:carbonline:simulator"


def areas(plant: Layout) -> dict[str, str]:
    """Each meter's line, or ``utilities`` for the shared chiller and the main meter."""
    found = {"chiller-kw": "utilities", "site-main": "utilities"}
    for line in plant.lines:
        found.update({m.meter: line.id for m in line.machines})
        found.update({f"{line.compressor}-kw": line.id, f"{line.id}-good": line.id,
                      f"{line.id}-scrap": line.id})
    return found


def topic(plant: Layout, area: str, meter: str) -> str:
    """``uns/<site>/<line or utilities>/<meter>``; payload ``{"ts", "value", "unit"}``."""
    return f"uns/{plant.site}/{area}/{meter}"


def context_topic(plant: Layout, line: str, what: str) -> str:
    """``uns/<site>/<line>/sku`` or ``…/order``; payload ``{"ts", "value"}``, retained."""
    return f"uns/{plant.site}/{line}/{what}"


def node_id(plant: Layout, meter: str) -> str:
    """``ns=2;s=<site>.<meter>`` on the simulator's OPC UA server."""
    return f"ns=2;s={plant.site}.{meter}"
