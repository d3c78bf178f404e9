"""``carbonline grafana …``: generate the committed artefacts, push them to a Grafana."""

from __future__ import annotations

from pathlib import Path

import click

#: Where the committed artefacts live in a clone (the repository's top-level folder).
DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "grafana_dashboards"


@click.group("grafana")
def grafana() -> None:
    """Grafana dashboards, alert rules and provisioning files."""


@grafana.command("generate")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_ROOT, show_default=True, help="Folder to write into.")
@click.option("--check", is_flag=True,
              help="Write nothing; fail when a committed file differs from what the code renders.")
def generate_command(out: Path, check: bool) -> None:
    """Render dashboards and provisioning files from code (needs the `dashboards` extra)."""
    from .generate import stale, write

    if check:
        differing = stale(out)
        if differing:
            raise click.ClickException("out of date (run `carbonline grafana generate`): "
                                       + ", ".join(differing))
        click.echo(f"{out}: up to date")
        return
    changed = write(out)
    click.echo(f"{len(changed)} file(s) written under {out}" if changed else f"{out}: up to date")
