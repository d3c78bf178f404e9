"""What every exporter shares: the inventory it is given, the prepared payload, the error a
refused export raises, and writing a dry run to disk.

The inventory is the GHG Protocol inventory of ``carbonline report``
(:class:`carbonline.report.model.Inventory`, read from the InfluxDB ``carbonline`` writes):
per line and site-local day the energy (kWh), Scope 1 by fuel and gas, Scope 2 location- and
market-based kg CO₂e, with data-quality notes per line. Exporters only reshape it, so an
export and a report of the same period carry the same numbers.

A dry run and a push are the same bytes: an exporter prepares its files once
(:class:`Prepared`), a dry run writes them, a push sends the request bodies among them. So a
payload someone reviewed is exactly what reaches the platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pluggy

from ..config import PlantConfig
from ..influxql import InfluxQLError
from ..report.collect import Progress
from ..report.ghg import build_inventory
from ..report.model import Inventory, Period
from ..report.query import SeriesReader


class ExportError(Exception):
    """An export that cannot be made or was refused; the message says what and where."""


@dataclass(frozen=True)
class Prepared:
    """An exporter's output: ``files`` (name → bytes) for a dry run, and ``bodies``, the names
    of the files a push sends, one request each, in order."""

    files: dict[str, bytes]
    bodies: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        missing = [name for name in self.bodies if name not in self.files]
        if missing:
            raise ValueError(f"request bodies that are not files: {', '.join(missing)}")


def read_inventory(config: PlantConfig, start: int, end: int,
                   progress: Progress | None = None) -> Inventory:
    """The plant's inventory of ``[start, end)`` ns from its ``[sinks.influx]``;
    ``progress(done, total)`` after each site-local day read."""
    if config.sinks.influx is None:
        raise ExportError("plant.toml: [sinks.influx] is needed: the inventory is read back "
                          "from the InfluxDB carbonline writes")
    try:
        return build_inventory(SeriesReader(config.sinks.influx),
                               Period(start, end, config.site.timezone), config, progress)
    except InfluxQLError as exc:
        raise ExportError(f"reading the inventory: {exc}") from None


def write_files(prepared: Prepared, out: Path) -> list[Path]:
    """Write a dry run's files into ``out`` (created if absent); the paths written, in order."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in prepared.files.items():
        path = out / name
        path.write_bytes(content)
        written.append(path)
    return written


def exporters(pm: pluggy.PluginManager, config: PlantConfig | None = None) -> dict[str, object]:
    """Every exporter the plugins offer for ``config`` (``carbonline_exporters``), by name;
    two with one name is an error, since ``carbonline export NAME`` could not tell them apart."""
    found: dict[str, object] = {}
    for answer in pm.hook.carbonline_exporters(config=config):
        for exporter in answer or []:
            if exporter.name in found:
                raise ExportError(f"two exporters are called {exporter.name!r}")
            found[exporter.name] = exporter
    return found
