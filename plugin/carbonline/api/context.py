"""What every answer of the API draws on, in one value handed to each router and to the MQTT
request handler — so HTTP and MQTT share one implementation of each answer."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy

from ..plant import PlantModel
from .history import History
from .view import RecentRows


@dataclass(frozen=True)
class ApiContext:
    """The plant, the run's recent rows, the history store (``None`` without
    ``[sinks.influx]``) and the plugin manager (the factor providers, for provenance)."""

    plant: PlantModel
    view: RecentRows
    history: History | None
    pm: pluggy.PluginManager

    @classmethod
    def for_run(cls, plant: PlantModel, view: RecentRows, pm: pluggy.PluginManager) -> ApiContext:
        """The context of a ``carbonline run``: its history store is its ``[sinks.influx]``."""
        sink = plant.config.sinks.influx
        return cls(plant, view, History(sink, plant.site) if sink is not None else None, pm)
