"""carbonline's extension points. Each docstring here *is* the plugin author's documentation.

A plugin is any module or object with functions named like these hooks and marked with
``carbonline.hookimpl``, registered through the ``carbonline`` entry-point group::

    # pyproject.toml of your plugin
    [project.entry-points.carbonline]
    my_plugin = "my_package.my_module"

carbonline's own file reader, line-protocol writer and factor providers are plugins of these
same hooks (see :mod:`carbonline.plugins`). A hook implementation whose name matches no hook
here fails at start-up, so a misspelt name never silently does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .analysis.lmdi import Effects, Period
    from .config import PlantConfig
    from .plant import PlantModel
    from .records import FactorSeries

hookspec = pluggy.HookspecMarker("carbonline")


@hookspec
def carbonline_sources(plant: PlantModel, inputs: Sequence[str]) -> list | None:
    """Return source objects for the inputs (file paths or URLs) this plugin can read.

    Every plugin is asked and all answers are used. A source has a ``name`` and a method
    ``read()`` returning an iterator of :class:`carbonline.records.ReadingBatch`, each holding
    numeric readings (meter index, time in ns UTC, value in the meter's unit), production-context
    changes and the inputs it refused with their reason. A source maps the plant's own naming to
    meters with the meter's ``influx``/``mqtt``/``opcua``/``csv`` mapping, and never raises on
    bad input: it counts and returns it as a rejection. A source may also offer ``size_bytes``
    (total, or ``None``) and ``bytes_read`` for a progress bar. Return ``None`` or ``[]`` for inputs that
    are not yours; an input that no plugin claims is an error.

    ``carbonline run`` passes the URLs of the plant.toml ``[sources.*]`` sections (e.g.
    ``mqtt://broker:1883``, ``opc.tcp://plc:4840``, the historian's ``http://…``); the plugin
    finds that section's settings (credentials, TLS) in ``plant.config.sources``. A *live*
    source's ``read()`` blocks while it waits and yields what arrived at least once a second
    (an empty batch when nothing did), so the run can stop it: after ``close()`` (called from
    another thread) ``read()`` returns within a few seconds. A reading without its own
    timestamp takes its arrival time. A live source may also offer ``counters``, a
    :class:`collections.Counter` of what it saw (``messages``, ``dead_lettered``,
    ``reconnects``, …) written to ``carbonline_health``, and ``router``, a FastAPI
    ``APIRouter`` that ``carbonline run`` mounts on its one HTTP app (the InfluxDB
    subscription endpoint is one). A source that can have input delivered again (an MQTT
    persistent session) may set a batch's ``receipt`` and offer ``acknowledge(receipt)``: the
    run calls it once the batch is logged in the state store, never before.
    """


@hookspec(firstresult=True)
def carbonline_emission_factors(
    plant: PlantModel, zone: str, start: int, end: int, basis: str
) -> FactorSeries | None:
    """Return the grid emission factors (kg CO₂e/kWh) for ``zone`` over ``[start, end)`` ns.

    ``basis`` is ``"location"`` or ``"market"`` (GHG Protocol Scope 2). The first plugin that
    answers wins, so a plant's own provider registered as a plugin takes precedence over the
    built-in ones; return ``None`` to let the next provider answer. The answer is a
    :class:`carbonline.records.FactorSeries` whose first step starts at or before ``start`` and
    whose provenance names the dataset, year, licence, basis and factor type.
    """


@hookspec
def carbonline_sinks(plant: PlantModel, outputs: Sequence[str]) -> list | None:
    """Return sink objects for the outputs (file paths, ``-`` for stdout, or URLs) you can write.

    ``plant`` is the compiled plant model (site, lines, machines, meters), for sinks that need
    the site name or want to check the outputs against the plant.

    Every plugin is asked and all answers are used. A sink has ``write(rows)`` taking a list of
    :class:`carbonline.records.IntensityRow` / :class:`carbonline.records.MachineRow` (a row
    with a higher ``revision`` replaces the earlier one with the same time and tags) and
    ``close()``; :class:`carbonline.records.FactorRow` values (the grid factor of each closed
    15-minute window, with provenance) and, in ``carbonline run``,
    :class:`carbonline.records.HealthRow` values arrive in the same lists
    (:mod:`carbonline.series` gives any row's measurement, tags and fields). A sink may offer
    ``counters`` and ``queue_depth`` for ``carbonline_health``. An output no plugin claims is
    an error.
    """


@hookspec(firstresult=True)
def carbonline_root_cause(baseline: Period, now: Period) -> Effects | None:
    """Split a line × SKU's intensity change from ``baseline`` to ``now`` into causes.

    Asked once when an alert opens; the first answer wins, so a plant's own analyser takes
    precedence over the built-in one (:mod:`carbonline.analysis.causes`, the LMDI split of the
    design brief §5). ``baseline`` and ``now`` are :class:`carbonline.analysis.lmdi.Period`
    values: hours, good units, SKU shares and per machine its factor (kg CO₂e/kWh), idle power
    (kW) and energy per unit (kWh/unit). Return :class:`carbonline.analysis.lmdi.Effects` (kg
    CO₂e/unit per cause); its ``largest()`` names the alert's cause and machine. Return
    ``None`` to leave the question to the next plugin.
    """


@hookspec
def carbonline_exporters(config: PlantConfig | None) -> list | None:
    """Return exporter objects: ESG platforms and other destinations of the emissions inventory.

    Every plugin is asked and all answers are used; ``carbonline export NAME`` runs the one
    whose ``name`` is NAME (names must be unique). ``config`` is the plant.toml being exported
    (``None`` when ``carbonline export --list`` only lists them), for a plugin that offers an
    exporter only where it applies. An exporter has ``name``, ``description`` and two methods:

    * ``prepare(inventory, config)`` → :class:`carbonline.export.base.Prepared`: the files a
      dry run writes (name → bytes) and the request bodies a push sends, which are some of
      those files byte for byte, so what was reviewed is what is sent. ``inventory`` is the
      GHG Protocol inventory of ``carbonline report`` (:class:`carbonline.report.model.Inventory`:
      per line and site-local day kWh, Scope 1 by fuel and gas, Scope 2 location- and
      market-based kg CO₂e; data quality per line); the exporter finds its own settings (target
      record ids, URLs, credentials) in ``config.export.settings(name)``, the plant.toml
      ``[export.<name>]`` table (a dict for a third-party exporter, ``None`` when absent).
    * ``push(prepared, config)`` → a list of one-line results to print; raises
      :class:`carbonline.export.base.ExportError` with the platform's own words when the
      platform refuses (a record it rejected is named).

    Raise :class:`~carbonline.export.base.ExportError` from ``prepare`` when the settings lack a
    target record id the export needs.
    """
