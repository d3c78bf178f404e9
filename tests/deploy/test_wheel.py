"""The release artefacts: ``python -m build`` makes an sdist and, from it, a wheel; the wheel
holds every file of the package (factor tables, scenarios, demo data included) and, installed
into a fresh virtual environment, runs carbonline away from the repository. The systemd unit
example is checked with ``systemd-analyze verify`` against that installation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from deploy.compose_model import ROOT

PACKAGE = ROOT / "plugin" / "carbonline"
UNIT = ROOT / "deploy" / "carbonline.service"
#: Where the unit expects the installation (its ExecStart), replaced by the test's venv.
UNIT_PREFIX = "/opt/carbonline/bin/"


def package_files() -> set[str]:
    """Every file of the package in the checkout, as the wheel names it (caches left out)."""
    return {p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``python -m build`` makes (through the sdist, as a release does)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True)
    (built,) = out.glob("carbonline-*.whl")
    assert list(out.glob("carbonline-*.tar.gz")), "no sdist built"
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, fresh_venv: Callable[[str], Path]) -> Path:
    """A fresh venv with the wheel (and its dependencies) installed: its ``bin``."""
    python = fresh_venv("wheel")
    done = subprocess.run([str(python / "python"), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", str(wheel)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return python


def run(python: Path, *args: str, cwd: Path) -> str:
    return subprocess.run([str(python / "carbonline"), *args], cwd=cwd, capture_output=True,
                          text=True, check=True).stdout


def test_wheel_holds_every_package_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = package_files() - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    data = [n for n in names if n.endswith((".csv", ".toml"))]
    assert any(n.startswith("carbonline/factors/data/") for n in data)
    assert any(n.startswith("carbonline/simulate/scenarios/") for n in data)


def test_installed_wheel_runs_without_the_repository(installed: Path, tmp_path: Path) -> None:
    where = run(installed, "--version", cwd=tmp_path)
    assert "carbonline" in where
    located = subprocess.run([str(installed / "python"), "-c",
                              "import carbonline; print(carbonline.__file__)"], cwd=tmp_path,
                             capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in located
    scenarios = run(installed, "simulate", "--list", cwd=tmp_path).split()
    shipped = sorted(p.stem for p in (PACKAGE / "simulate" / "scenarios").glob("*.toml"))
    assert shipped and all(name in scenarios for name in shipped)
    zones = run(installed, "factors", "--list", cwd=tmp_path).split()
    assert "DE" in zones and "US-TX" in zones
    demo = run(installed, "demo", "--hours", "1", cwd=tmp_path)
    assert "line2" in demo and "CO₂e" in demo  # the closed windows' table


def test_systemd_unit_verifies_against_the_installation(installed: Path,
                                                        tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian: systemd) checks the unit file"
    text = UNIT.read_text(encoding="utf-8")
    assert f"ExecStart={UNIT_PREFIX}carbonline run --config " in text
    unit = tmp_path / "carbonline.service"
    unit.write_text(text.replace(UNIT_PREFIX, f"{installed}{os.sep}"))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and "carbonline.service" not in result.stderr, result.stderr
    # the commands it runs exist in the installation and take these arguments
    help_run = run(installed, "run", "--help", cwd=tmp_path)
    assert "--config" in help_run
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("Type=exec", "Type=sometimes"))
    complaint = subprocess.run([analyze, "verify", str(broken)], capture_output=True,
                               text=True).stderr
    assert "broken.service" in complaint  # the same check does find a bad line
