"""Render every Grafana artefact from code into ``grafana_dashboards/``.

The JSON and YAML are committed so a plant imports them without Python; the code is the source
of truth, and ``carbonline grafana generate --check`` (run by the tests) fails when the committed
files no longer equal what the code renders.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import dashboards, provisioning


def render() -> dict[str, str]:
    """Every file's text by its path relative to ``grafana_dashboards/``: one JSON model per
    dashboard at the top level, the provisioning files under ``provisioning/``."""
    files = {name: json.dumps(model, indent=2, sort_keys=True) + "\n"
             for name, model in dashboards.build_all().items()}
    files.update({f"provisioning/{path}": text
                  for path, text in provisioning.build_files().items()})
    return files


def write(root: Path) -> list[Path]:
    """Write the rendered files under ``root``; returns the paths that changed."""
    changed = []
    for relative, text in render().items():
        path = root / relative
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed


def stale(root: Path) -> list[str]:
    """Relative paths whose committed text differs from what the code renders (or is missing)."""
    return [relative for relative, text in render().items()
            if not (root / relative).exists() or (root / relative).read_text() != text]
