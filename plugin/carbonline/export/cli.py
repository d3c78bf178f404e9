"""``carbonline export NAME --from … --to …``: the inventory of a period to an ESG platform."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from ..config import ConfigError, PlantConfig, load_config
from ..plugins import get_manager
from ..records import to_ns
from ..report.cli import days_bar
from .base import ExportError, exporters, read_inventory, write_files

err = Console(stderr=True)


def _instant(text: str) -> int:
    """ns UTC of an ISO 8601 time or date (a date is midnight UTC)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no UTC offset: write e.g. {text}Z")
    return to_ns(moment)


@click.command("export")
@click.argument("name", required=False)
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="The plant.toml: [sinks.influx] to read, [export.NAME] for the target ids.")
@click.option("--from", "start", help="Period start, ISO 8601 with offset (days starting "
              "from here on are exported).")
@click.option("--to", "end", help="Period end, exclusive.")
@click.option("--dry-run", is_flag=True, help="Write the files a push would send; send nothing.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the files (with --dry-run; default ./export-NAME).")
@click.option("--list", "list_exporters", is_flag=True, help="List the exporters and exit.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar while reading (default: when stderr is a terminal).")
def export_command(name: str | None, config: str | None, start: str | None, end: str | None,
                   dry_run: bool, out: Path | None, list_exporters: bool,
                   progress: bool | None) -> None:
    """Send a period's emissions inventory to NAME (salesforce, webhook, or a plugin's)."""
    if list_exporters:
        for exporter in _exporters(None).values():
            click.echo(f"{exporter.name}\t{exporter.description}")
        return
    if name is None or config is None or start is None or end is None:
        raise click.UsageError("give NAME, --config, --from and --to (or --list)")
    if out is not None and not dry_run:
        raise click.UsageError("--out goes with --dry-run (a push writes no files)")
    begin, finish = _instant(start), _instant(end)
    if finish <= begin:
        raise click.UsageError("--to must be after --from")
    try:
        plant = load_config(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    found = _exporters(plant)
    exporter = found.get(name)
    if exporter is None:
        raise click.UsageError(f"no exporter {name!r} (have: {', '.join(sorted(found))})")
    bar = days_bar(progress)
    try:
        with bar:
            task = bar.add_task("reading days", total=None)
            inventory = read_inventory(plant, begin, finish, lambda done, total: bar.update(
                task, completed=done, total=total))
        prepared = exporter.prepare(inventory, plant)
        if dry_run:
            for path in write_files(prepared, out or Path(f"export-{name}")):
                click.echo(f"wrote {path}")
            return
        for line in exporter.push(prepared, plant):
            click.echo(line)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None


def _exporters(plant: PlantConfig | None) -> dict[str, object]:
    try:
        return exporters(get_manager(), plant)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
