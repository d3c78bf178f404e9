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


@grafana.command("push")
@click.option("--url", required=True, envvar="GRAFANA_URL", show_envvar=True,
              help="Grafana's address, e.g. http://grafana:3000.")
@click.option("--token", required=True, envvar="GRAFANA_TOKEN", show_envvar=True,
              help="A service account token (Editor; Admin to create the data source).")
@click.option("--folder", "folder_title", default=None,
              help="Title of the folder for the dashboards and alert rules [default: carbonline].")
@click.option("--influx-version", type=click.Choice(["1", "2"]), default="1", show_default=True,
              help="InfluxDB 1.x, or 2.x through its DBRP mapping (InfluxQL either way).")
@click.option("--influx-url", default=None,
              help="InfluxDB's address as Grafana reaches it (else $INFLUX_URL).")
@click.option("--database", default=None,
              help="The InfluxQL database carbonline writes to (else the definition's variable).")
@click.option("--overwrite/--no-overwrite", default=True, show_default=True,
              help="Replace dashboards that were changed in Grafana; --no-overwrite keeps them.")
def push_command(url: str, token: str, folder_title: str | None, influx_version: str,
                 influx_url: str | None, database: str | None, overwrite: bool) -> None:
    """Create or update the folder, data source, dashboards and alert rules in a running
    Grafana (needs the `grafana` extra); prints what it did to each."""
    from . import alerting, dashboards, provisioning
    from .datasource import FOLDER_TITLE
    from .push import PushError, api_datasource, connect, push

    try:
        definition = api_datasource(provisioning.datasource(int(influx_version)),
                                    url=influx_url, database=database)
        for outcome in push(connect(url, token), datasource=definition,
                            dashboards=dashboards.build_all(),
                            rule_groups=alerting.rule_groups(),
                            folder_title=folder_title or FOLDER_TITLE, overwrite=overwrite):
            click.echo(str(outcome))
    except PushError as error:
        raise click.ClickException(str(error)) from error
