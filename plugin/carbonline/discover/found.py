"""What discovery finds: one signal on a server, with what is known about it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Found:
    """One signal on a historian, broker or PLC that may be a meter.

    ``mapping`` is the meter's mapping as plant.toml writes it, keyed by its kind, e.g.
    ``{"opcua": {"node": "ns=2;s=Line1.Filler.Energy"}}``, ``{"mqtt": {"topic": "plant/l1/kwh",
    "path": "value"}}`` or ``{"influx": {"measurement": "power", "field": "kw", "tags":
    {"machine": "filler1"}}}``. ``samples`` are values seen, oldest first (numbers, or text for
    SKU/order signals), which the role guess reads: a counter only grows. ``unit`` is the unit
    the server states (an OPC UA EngineeringUnits, a ``unit`` tag or key), if any.
    """

    name: str
    mapping: dict[str, dict]
    samples: list[float | str] = field(default_factory=list)
    unit: str | None = None
    where: str = ""
