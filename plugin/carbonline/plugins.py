"""The plugin manager: built-in plugins plus whatever is installed under the ``carbonline``
entry-point group, all registered through the same hooks (:mod:`carbonline.hookspecs`)."""

from __future__ import annotations

import importlib
from functools import cache

import pluggy

from . import hookspecs

hookimpl = pluggy.HookimplMarker("carbonline")

#: carbonline's own parts, registered exactly as a third-party plugin would be.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "carbonline.sources.files",
    "carbonline.sources.mqtt",
    "carbonline.sources.opcua",
    "carbonline.sources.influx",
    "carbonline.sinks.lineprotocol",
    "carbonline.sinks.mqtt",
    "carbonline.sinks.influx",
    "carbonline.factors.providers",
    "carbonline.analysis.causes",
    "carbonline.export.salesforce",
    "carbonline.export.webhook",
)


def make_manager(load_entry_points: bool = True) -> pluggy.PluginManager:
    """A fresh manager with the built-ins and (by default) installed plugins.

    ``check_pending`` makes a hook implementation with a misspelt name an error instead of a
    function that is silently never called.
    """
    pm = pluggy.PluginManager("carbonline")
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entry_points:
        pm.load_setuptools_entrypoints("carbonline")
    pm.check_pending()
    return pm


@cache
def get_manager() -> pluggy.PluginManager:
    """The process-wide manager, built on first use."""
    return make_manager()
