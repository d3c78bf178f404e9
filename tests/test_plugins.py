"""The plugin manager: built-ins register through the same hooks as third parties, a misspelt
hook implementation is an error at start-up (tox's ``check_pending``), and a plugin installed
under the ``carbonline`` entry-point group is really found and takes precedence."""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pluggy
import pytest

import carbonline
from carbonline.config import parse_config
from carbonline.plant import PlantModel, build_plant
from carbonline.plugins import BUILTIN_PLUGINS, make_manager
from carbonline.records import NS_PER_S

FIXTURE = Path(__file__).parent / "fixtures" / "thirdparty_plugin"
#: What the fixture plugin answers for its zone (see fixtures/thirdparty_plugin).
PLUGIN_ZONE = "GL"
PLUGIN_VALUE = 0.123456
PLUGIN_ENTRY_POINT = "constant_zone"
PLUGIN_MODULE = "carbonline_test_plugin"

START = int(datetime(2026, 3, 2, tzinfo=timezone.utc).timestamp()) * NS_PER_S
END = START + 3600 * NS_PER_S


def plant(grid_zone: str, grid_kg_per_kwh: float = 0.5) -> PlantModel:
    return build_plant(parse_config({
        "site": {"name": "p", "timezone": "UTC", "grid_zone": grid_zone},
        "factors": {"grid_kg_per_kwh": grid_kg_per_kwh},
        "lines": [{"id": "l1"}],
        "machines": [{"id": "m1", "line": "l1"}],
        "meters": [{"id": "e1", "role": "energy_counter", "machine": "m1", "unit": "kWh"}],
    }))


def factors(pm: pluggy.PluginManager, model: PlantModel, zone: str, basis: str = "location"):
    return pm.hook.carbonline_emission_factors(
        plant=model, zone=zone, start=START, end=END, basis=basis
    )


# --- built-ins ----------------------------------------------------------------------------------


def test_every_builtin_module_is_registered_under_its_own_name() -> None:
    pm = make_manager(load_entry_points=False)
    for name in BUILTIN_PLUGINS:
        assert pm.get_plugin(name) is importlib.import_module(name), name
    assert {name for name, _ in pm.list_name_plugin()} == set(BUILTIN_PLUGINS)


def test_every_builtin_implements_some_hook() -> None:
    """A built-in that answers no hook would be registered for nothing."""
    pm = make_manager(load_entry_points=False)
    for name in BUILTIN_PLUGINS:
        assert pm.get_hookcallers(pm.get_plugin(name)), f"{name} implements no carbonline hook"


def test_builtins_answer_the_hooks_they_are_meant_to() -> None:
    pm = make_manager(load_entry_points=False)

    def implementers(hook: str) -> set[str]:
        return {impl.plugin_name for impl in getattr(pm.hook, hook).get_hookimpls()}

    assert "carbonline.sources.files" in implementers("carbonline_sources")
    assert "carbonline.sinks.lineprotocol" in implementers("carbonline_sinks")
    assert "carbonline.factors.providers" in implementers("carbonline_emission_factors")


def test_builtin_factor_provider_is_last_so_any_plugin_can_override_it() -> None:
    pm = make_manager(load_entry_points=False)
    (impl,) = [i for i in pm.hook.carbonline_emission_factors.get_hookimpls()
               if i.plugin_name == "carbonline.factors.providers"]
    assert impl.trylast


def test_builtin_constant_answers_through_the_hook() -> None:
    pm = make_manager(load_entry_points=False)
    series = factors(pm, plant("DE", 0.5), "DE")
    assert series.at(np.array([START])).tolist() == [0.5]
    assert factors(pm, plant("DE", 0.5), "FR") is None  # nobody answers for another zone


# --- misspelt hooks -------------------------------------------------------------------------


class Misspelt:
    """A plugin whose author typed ``sourcse``: without check_pending it would never be called."""

    @carbonline.hookimpl
    def carbonline_sourcse(self, plant, inputs):  # noqa: ANN001 - deliberately wrong name
        return []


def test_misspelt_hook_fails_check_pending() -> None:
    pm = make_manager(load_entry_points=False)
    pm.register(Misspelt(), name="misspelt")
    with pytest.raises(pluggy.PluginValidationError, match="carbonline_sourcse"):
        pm.check_pending()


def test_make_manager_rejects_a_misspelt_hook_from_an_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """make_manager itself must run check_pending after loading installed plugins; here the
    entry-point loading is replaced by registering the misspelt plugin."""

    def load_misspelt(self: pluggy.PluginManager, group: str, name: str | None = None) -> int:
        assert group == "carbonline"
        self.register(Misspelt(), name="misspelt")
        return 1

    monkeypatch.setattr(pluggy.PluginManager, "load_setuptools_entrypoints", load_misspelt)
    with pytest.raises(pluggy.PluginValidationError, match="carbonline_sourcse"):
        make_manager()


def test_wrongly_named_argument_is_rejected_at_registration() -> None:
    """pluggy checks argument names against the spec too: ``zones`` is not an argument."""

    class WrongArgument:
        @carbonline.hookimpl
        def carbonline_emission_factors(self, plant, zones, start, end, basis):  # noqa: ANN001
            return None

    pm = make_manager(load_entry_points=False)
    with pytest.raises(pluggy.PluginValidationError, match="zones"):
        pm.register(WrongArgument())


# --- a real third-party plugin, installed through its entry point ---------------------------


def _pip_install(source: Path, target: Path) -> None:
    """Install the fixture distribution into ``target``, offline when the venv allows it.

    ``--no-build-isolation`` needs a setuptools that can build wheels on its own (≥ 70.1, or
    any with the ``wheel`` package); failing that, pip builds in an isolated environment."""
    base = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
            str(target)]
    offline = subprocess.run(base + ["--no-index", "--no-build-isolation", str(source)],
                             capture_output=True, text=True, timeout=120)
    if offline.returncode == 0:
        return
    shutil.rmtree(target, ignore_errors=True)
    isolated = subprocess.run(base + [str(source)], capture_output=True, text=True, timeout=300)
    assert isolated.returncode == 0, (
        f"could not install the fixture plugin\n--no-build-isolation:\n{offline.stderr}\n"
        f"isolated build:\n{isolated.stderr}"
    )


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture distribution pip-installed into a temporary directory (once per module).

    It is built from a copy so the build leaves no ``build/`` or ``*.egg-info`` in tests/."""
    work = tmp_path_factory.mktemp("thirdparty")
    source = work / "src"
    shutil.copytree(FIXTURE, source)
    target = work / "site"
    _pip_install(source, target)
    return target


@pytest.fixture
def installed_plugin(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugin importable and its entry point visible for one test, and gone afterwards."""
    monkeypatch.syspath_prepend(str(plugin_dir))
    yield plugin_dir
    sys.modules.pop(PLUGIN_MODULE, None)


def test_installed_entry_point_is_visible(installed_plugin: Path) -> None:
    found = importlib.metadata.entry_points(group="carbonline", name=PLUGIN_ENTRY_POINT)
    assert [ep.value for ep in found] == [PLUGIN_MODULE]


def test_make_manager_loads_the_installed_plugin(installed_plugin: Path) -> None:
    pm = make_manager()
    module = pm.get_plugin(PLUGIN_ENTRY_POINT)
    assert module is not None and module.__name__ == PLUGIN_MODULE
    assert any(dist.project_name == "carbonline-test-plugin"
               for _, dist in pm.list_plugin_distinfo())
    # the built-ins are still there alongside it
    assert all(pm.get_plugin(name) is not None for name in BUILTIN_PLUGINS)


def test_without_entry_points_the_plugin_is_not_loaded(installed_plugin: Path) -> None:
    pm = make_manager(load_entry_points=False)
    assert pm.get_plugin(PLUGIN_ENTRY_POINT) is None


def test_plugin_answer_wins_over_the_builtin_for_the_same_zone(installed_plugin: Path) -> None:
    """The site's grid zone is the plugin's zone, so both providers could answer; firstresult
    and the built-in's trylast mean the plugin's value is the one used."""
    model = plant(PLUGIN_ZONE, grid_kg_per_kwh=0.5)

    builtin_only = factors(make_manager(load_entry_points=False), model, PLUGIN_ZONE)
    assert builtin_only.at(np.array([START])).tolist() == [0.5]

    with_plugin = factors(make_manager(), model, PLUGIN_ZONE)
    assert with_plugin.at(np.array([START, END - 1])).tolist() == [PLUGIN_VALUE, PLUGIN_VALUE]
    assert with_plugin.provenance.provider == "carbonline-test-plugin"


def test_plugin_returning_none_lets_the_builtin_answer(installed_plugin: Path) -> None:
    """For any other zone the plugin says None, and the next provider (the built-in) answers."""
    series = factors(make_manager(), plant("DE", grid_kg_per_kwh=0.38), "DE")
    assert series.at(np.array([START])).tolist() == [0.38]
    assert series.provenance.provider == "constant"
