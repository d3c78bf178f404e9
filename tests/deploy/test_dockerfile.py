"""The Dockerfile's install steps, run as written without a Docker engine.

Each stage gets a folder standing for its filesystem (a container path ``/x`` is
``<stage>/x``) and a fresh virtual environment standing for the image's Python. ``COPY`` copies
from the build context as Docker sends it (``.dockerignore`` applied) or from an earlier stage;
every ``RUN`` that installs with pip runs verbatim (``/bin/sh -c``, in the stage's WORKDIR,
with the Dockerfile's ENV); the rest (``useradd``) change the image's users and are not run.
Then the final stage's entry point answers ``--help`` and finds its package data, from a folder
outside the repository.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploy.compose_model import ROOT
from packaging.specifiers import SpecifierSet
from packaging.version import Version

DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    """One ``FROM`` … of the Dockerfile: its base image, name and instructions in order."""

    image: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)


def parse(text: str) -> list[Stage]:
    """Stages of a Dockerfile: continuation lines joined, comments dropped."""
    stages: list[Stage] = []
    joined = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, argument = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            image, *alias = argument.split()
            stages.append(Stage(image, alias[1] if alias else None))
        else:
            stages[-1].steps.append((instruction, " ".join(argument.split())))
    return stages


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` (relative to the context) out of the build context: the
    last .dockerignore pattern matching it or one of its parent folders decides; ``*`` does not
    cross ``/``, ``**`` does, ``!`` re-includes."""
    decision = False
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        regex = re.compile("".join(
            ".*" if token == "**" else "[^/]*" if token == "*" else "[^/]" if token == "?"
            else re.escape(token) for token in re.split(r"(\*\*|\*|\?)", body.strip("/"))))
        if any(regex.fullmatch(c) for c in candidates):
            decision = not negate
    return decision


def build_context(tmp: Path) -> Path:
    """The repository as Docker sends it: .dockerignore applied (folders it leaves out, and
    that no ``!`` pattern reaches into, are not walked)."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.startswith("#")]
    reincluded = [p[1:].strip("/") for p in patterns if p.startswith("!")]
    context = tmp / "context"
    for folder, folders, files in os.walk(ROOT):
        base = Path(folder).relative_to(ROOT).as_posix().removeprefix(".")
        folders[:] = [d for d in folders if not ignored(f"{base}/{d}".lstrip("/"), patterns)
                      or any(r.startswith(f"{base}/{d}".lstrip("/")) for r in reincluded)]
        for name in files:
            relative = f"{base}/{name}".lstrip("/")
            if not ignored(relative, patterns):
                (context / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / relative, context / relative)
    return context


def copy(sources: list[Path], destination: Path, into: bool) -> None:
    """Docker's ``COPY``: a folder's contents go into ``destination``; a file goes into it
    when ``into`` (a destination ending in ``/``, or several sources), else becomes it."""
    for source in sources:
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            target = destination / source.name if into else destination
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def replay(stages: list[Stage], context: Path, tmp: Path,
           fresh_venv: Callable[[str], Path]) -> tuple[Path, list[str]]:
    """Run the stages; returns the final stage's venv ``bin`` and the RUN lines not run."""
    roots: dict[str, Path] = {}
    skipped: list[str] = []
    for index, stage in enumerate(stages):
        root = tmp / f"stage{index}"
        python = fresh_venv(f"stage{index}")
        environment = {**os.environ, "PATH": f"{python}{os.pathsep}{os.environ['PATH']}"}
        workdir = root
        for instruction, argument in stage.steps:
            if instruction == "WORKDIR":
                workdir = root / argument.lstrip("/")
                workdir.mkdir(parents=True, exist_ok=True)
            elif instruction == "ENV":
                environment.update(dict(pair.split("=", 1) for pair in argument.split()))
            elif instruction == "COPY":
                *sources, destination = argument.split()
                origin = context
                if sources[0].startswith("--from="):
                    origin = roots[sources.pop(0).split("=", 1)[1]]
                paths = [origin / s.lstrip("/") for s in sources]
                assert all(p.exists() for p in paths), f"COPY {argument}: missing in {origin}"
                into = destination.endswith("/") or destination in (".", "./") or len(
                    paths) > 1
                copy(paths, root / destination.lstrip("/") if destination.startswith("/")
                     else workdir / destination, into)
            elif instruction == "RUN":
                if "pip" not in argument:
                    skipped.append(argument)
                    continue
                assert not any(word.startswith("/") for word in shlex.split(argument)), (
                    f"RUN {argument}: keep pip steps relative to the WORKDIR")
                done = subprocess.run(["/bin/sh", "-c", argument], cwd=workdir,
                                      env=environment, capture_output=True, text=True)
                assert done.returncode == 0, f"RUN {argument}:\n{done.stderr}"
            else:  # metadata of the image, nothing to install; anything else is not modelled
                assert instruction in ("USER", "EXPOSE", "ENTRYPOINT", "CMD", "LABEL"), (
                    f"{instruction} {argument}: teach this replay what it does")
        roots[stage.name or str(index)] = root
    return python, skipped


def test_dockerignore_rules() -> None:
    patterns = ["*", "!plugin/", "**/__pycache__", "!README.md"]
    assert ignored(".venv/bin/python", patterns)
    assert not ignored("plugin/carbonline/cli.py", patterns)
    assert ignored("plugin/carbonline/__pycache__/cli.pyc", patterns)
    assert not ignored("README.md", patterns)


def test_image_runs_carbonline_as_a_user_from_pinned_bases() -> None:
    stages = parse(DOCKERFILE.read_text(encoding="utf-8"))
    for stage in stages:
        assert re.search(r":\d+\.\d+", stage.image), f"{stage.image} is not pinned"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "requires-python"]
    for stage in stages:  # python:3.11-… satisfies requires-python
        version = re.match(r"python:(\d+\.\d+)", stage.image).group(1)
        assert Version(version) in SpecifierSet(requires), (stage.image, requires)
    final = dict(stages[-1].steps)
    assert final["USER"] not in ("root", "0")
    assert final["ENTRYPOINT"] == '["carbonline"]'


def test_dockerfile_install_steps_give_a_working_carbonline(
        tmp_path: Path, fresh_venv: Callable[[str], Path]) -> None:
    stages = parse(DOCKERFILE.read_text(encoding="utf-8"))
    python, skipped = replay(stages, build_context(tmp_path), tmp_path, fresh_venv)
    assert all(s.startswith("useradd ") for s in skipped), skipped
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    helped = subprocess.run([str(python / "carbonline"), "--help"], cwd=elsewhere,
                            capture_output=True, text=True, check=True)
    assert "run" in helped.stdout and "simulate" in helped.stdout
    zones = subprocess.run([str(python / "carbonline"), "factors", "--list"], cwd=elsewhere,
                           capture_output=True, text=True, check=True)
    assert "DE" in zones.stdout.split()
    installed = subprocess.run([str(python / "python"), "-c",
                                "import carbonline; print(carbonline.__file__)"],
                               cwd=elsewhere, capture_output=True, text=True, check=True)
    assert str(ROOT) not in installed.stdout  # the wheel's copy, not the checkout
