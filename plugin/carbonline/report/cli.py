"""``carbonline report``: the GHG Protocol inventory, ESRS E1 and the HTML report of a period,
read from the InfluxDB carbonline writes to (``--config``'s ``[sinks.influx]``, or
``--influx``/``--database``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

from ..config import ConfigError, PlantConfig, load_config
from ..influxql import InfluxQLError
from ..records import to_ns
from .collect import collect
from .esrs import build_esrs
from .ghg import inventory_of
from .html import browser
from .model import Period
from .query import SeriesReader
from .write import FORMATS, write_report

err = Console(stderr=True)


def days_bar(progress: bool | None) -> Progress:
    """The bar of site-local days read from InfluxDB (shown when stderr is a terminal, unless
    ``progress`` says otherwise): a quarter's 1-minute windows take a while to read."""
    show = err.is_terminal if progress is None else progress
    return Progress("[progress.description]{task.description}", BarColumn(),
                    TaskProgressColumn(), TimeRemainingColumn(), console=err, disable=not show)


def parse_moment(text: str, zone: str) -> int:
    """ISO 8601 date or date-time as ns UTC; without an offset it is local time in ``zone``
    (the site's timezone with ``--config``, else UTC)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return to_ns(moment)


def _reader(config: str | None, influx: str | None,
            database: str | None) -> tuple[SeriesReader, PlantConfig | None]:
    if config is not None:
        try:
            plant = load_config(config)
        except ConfigError as exc:
            raise click.ClickException(f"invalid configuration\n{exc}") from None
        if influx or database:
            if not (influx and database):
                raise click.UsageError("give both --influx and --database")
            return SeriesReader.at(influx, database), plant
        if plant.sinks.influx is None:
            raise click.UsageError("the config has no [sinks.influx]: give --influx and "
                                   "--database")
        return SeriesReader(plant.sinks.influx), plant
    if not (influx and database):
        raise click.UsageError("give --config, or --influx and --database")
    return SeriesReader.at(influx, database), None


@click.command("report")
@click.option("--from", "start", required=True, help="Period start (ISO 8601 date or time).")
@click.option("--to", "end", required=True, help="Period end, exclusive (ISO 8601).")
@click.option("--format", "formats", multiple=True, default=("all",), show_default=True,
              type=click.Choice([*FORMATS, "all"]), help="What to write; repeatable.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("report"), show_default=True, help="Folder to write into.")
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="The plant.toml: its site, fuels, units, GWP set, [sinks.influx], [report].")
@click.option("--influx", "influx", metavar="URL", help="InfluxDB holding the carbon_* series.")
@click.option("--database", "database", help="Its database (1.x) or DBRP-mapped bucket.")
@click.option("--pdf/--no-pdf", default=True, show_default=True,
              help="Print report.pdf with a headless Chromium when one is installed.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: when stderr is a terminal).")
def report(start: str, end: str, formats: tuple[str, ...], out: Path, config: str | None,
           influx: str | None, database: str | None, pdf: bool,
           progress: bool | None) -> None:
    """GHG Protocol inventory, ESRS E1 (CSV, JSON) and an HTML report with plots."""
    reader, plant = _reader(config, influx, database)
    zone = plant.site.timezone if plant is not None else "UTC"
    period = Period(parse_moment(start, zone), parse_moment(end, zone), zone)
    if period.end_ns <= period.start_ns:
        raise click.UsageError("--to must be after --from")
    wanted = set(FORMATS) if "all" in formats else set(formats)
    bar = days_bar(progress)
    try:
        with bar:
            task = bar.add_task("reading days", total=None)
            data = collect(reader, period, [plant.site.name] if plant else None,
                           lambda done, total: bar.update(task, completed=done, total=total))
        inventory = inventory_of(data, plant)
        paths = write_report(data, inventory, build_esrs(inventory, plant), wanted, out, pdf)
    except (InfluxQLError, RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if "html" in wanted and pdf and browser() is None:
        err.print("no headless Chromium on PATH: report.pdf not printed (report.html is)")
    total = inventory.total()
    err.print(f"{len(inventory.lines)} lines, {total.total_location_co2e_kg:,.1f} kg CO2e "
              f"(location-based), {total.total_market_co2e_kg:,.1f} kg (market-based); "
              f"{len(paths)} files in {out}")
