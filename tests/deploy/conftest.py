"""Fixtures of the deployment tests: each compose stack, and fresh virtual environments."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from deploy.compose_model import COMPOSE, STACKS, ComposeFile


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> ComposeFile:
    """Each compose stack in turn."""
    return ComposeFile(COMPOSE / request.param)


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A factory of empty virtual environments (no carbonline, no site packages): what a
    container's Python or a new machine starts from. Returns the venv's ``bin`` folder."""

    def make(name: str) -> Path:
        venv = tmp_path_factory.mktemp(name) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        return venv / "bin"

    return make
