"""The ``carbonline`` command line: each command a thin shell over library functions."""

from __future__ import annotations

import gc
import logging
import signal
import time
from datetime import datetime, timezone

import click
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from . import __version__
from .config import ConfigError, load_config
from .engine.accumulator import Engine, EngineStats, FactorError
from .audit.cli import audit
from .export.cli import export_command
from .grafana.cli import grafana
from .nodered.cli import node_red
from .report.cli import report
from .plant import build_plant
from .plugins import get_manager
from .records import to_ns
from .replay import UnclaimedError, replay

err = Console(stderr=True)


def tune_gc() -> None:
    """Process set-up for a carbonline command. The engine keeps ~10⁵ small window objects
    alive for the revision horizon; CPython's default thresholds would re-scan them dozens of
    times a minute (a quarter of a replay's time)."""
    gc.set_threshold(100_000, 50, 100)


def _load(path: str):
    try:
        return build_plant(load_config(path))
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration\n{exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="carbonline")
@click.option("-v", "--verbose", is_flag=True, help="Log every rejected reading, not a sample.")
def main(verbose: bool) -> None:
    """Live CO₂e per unit produced, per line, SKU and shift, from a plant's energy meters."""
    tune_gc()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@main.command("check-config")
@click.argument("config", type=click.Path(dir_okay=False))
def check_config(config: str) -> None:
    """Validate a plant.toml and summarise what it describes."""
    plant = _load(config)
    cfg = plant.config
    click.echo(
        f"{config}: OK — site {cfg.site.name} ({cfg.site.timezone}, grid zone "
        f"{cfg.site.grid_zone}), {len(cfg.lines)} lines, {len(cfg.machines)} machines, "
        f"{len(cfg.meters)} meters, windows {', '.join(cfg.window_sizes)}"
        + (", shift" if cfg.shifts.shifts else "") + ", day, order"
    )


@main.command("replay")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
              help="The plant.toml describing meters and lines.")
@click.option("--input", "inputs", required=True, multiple=True,
              help="Line protocol (.lp/.txt/.line, '-' for stdin) or CSV file; repeatable.")
@click.option("--output", "outputs", required=True, multiple=True,
              help="Where to write line protocol ('-' for stdout); repeatable.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: when stderr is a terminal).")
@click.option("--ledger", type=click.Path(dir_okay=False),
              help="Record every window revision in this audit ledger (default: "
                   "<[run] state_dir>/ledger.sqlite when that is set).")
def replay_command(config: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
                   progress: bool | None, ledger: str | None) -> None:
    """Replay meter files through the engine and write carbon_* series as line protocol."""
    plant = _load(config)
    show = err.is_terminal if progress is None else progress
    bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                   TimeRemainingColumn(), console=err, disable=not show)
    with bar:
        task = bar.add_task("replay", total=None)
        try:
            summary = replay(plant, list(inputs), list(outputs),
                             progress=lambda done, total: bar.update(task, completed=done,
                                                                     total=total),
                             ledger=ledger)
        except (UnclaimedError, FactorError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
    _print_stats(summary.stats)
    err.print(f"{summary.rows_written:,} rows written to {', '.join(outputs)}")


@main.command("run")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
              help="The plant.toml; its [sources.*] and [sinks.*] say where to connect.")
@click.option("--input", "inputs", multiple=True,
              help="A source besides the configured ones (mqtt://…, opc.tcp://…); repeatable.")
@click.option("--output", "outputs", multiple=True,
              help="A sink besides the configured ones (mqtt://…, a URL, a .lp file); "
                   "repeatable.")
def run_command(config: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
    """Attach to a live plant and keep CO₂e-per-unit series flowing until stopped."""
    from .live import LiveRun
    from .partition import partition

    try:
        plant = build_plant(partition(load_config(config)))
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration\n{exc}") from None
    try:
        live = LiveRun(plant, inputs, outputs)
    except (UnclaimedError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: live.stop())
    err.print(f"carbonline run: {', '.join(s.name for s in live.sources)} → "
              f"{', '.join(s.name for s in live.sinks)}; HTTP on {plant.config.http.listen}; "
              "Ctrl-C stops")
    try:
        summary = live.run()
    except FactorError as exc:
        raise click.ClickException(str(exc)) from None
    _print_stats(live.engine.stats)
    err.print(f"{summary.rows_written:,} rows written")


@main.command("backfill")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
              help="The plant.toml; readings come from its [sources.influx] historian.")
@click.option("--from", "start", required=True, help="Period start (ISO 8601).")
@click.option("--to", "end", required=True, help="Period end, exclusive (ISO 8601).")
@click.option("--output", "outputs", multiple=True,
              help="A sink besides the configured [sinks.*] ones; repeatable.")
def backfill_command(config: str, start: str, end: str, outputs: tuple[str, ...]) -> None:
    """Recompute a past period from the historian, writing the points a live run would."""
    from rich.progress import TaskProgressColumn

    from .live import configured_outputs
    from .replay import open_sinks, run_through
    from .sources.influx import InfluxBackfill

    plant = _load(config)
    settings = plant.config.sources.influx
    if settings is None:
        raise click.ClickException("backfill reads the [sources.influx] historian: configure it")
    begin, finish = (to_ns(datetime.fromisoformat(t.replace("Z", "+00:00"))) for t in (start, end))
    if finish <= begin:
        raise click.UsageError("--to must be after --from")
    targets = [*configured_outputs(plant.config), *outputs]
    if not targets:
        raise click.ClickException("nowhere to write: configure [sinks.*] or give --output")
    try:
        sinks = open_sinks(plant, targets, get_manager())
    except UnclaimedError as exc:
        raise click.ClickException(str(exc)) from None
    bar = Progress("[progress.description]{task.description}", BarColumn(),
                   TaskProgressColumn(), TimeRemainingColumn(), console=err,
                   disable=not err.is_terminal)
    with bar:
        task = bar.add_task("backfill", total=finish - begin)
        try:
            summary = run_through(plant, [InfluxBackfill(plant, settings, begin, finish)],
                                  sinks, lambda done, _: bar.update(task, completed=done))
        except (OSError, FactorError) as exc:
            raise click.ClickException(str(exc)) from None
    _print_stats(summary.stats)
    err.print(f"{summary.rows_written:,} rows written to {', '.join(targets)}")


@main.command("discover")
@click.option("--influx", "influx", metavar="URL", help="An InfluxDB: http://host:8086")
@click.option("--database", help="With --influx: the database to look in (default: all).")
@click.option("--mqtt", "mqtt_url", metavar="URL", help="A broker: mqtt://host:1883")
@click.option("--topic", default="#", show_default=True, help="With --mqtt: what to listen to.")
@click.option("--seconds", default=10.0, show_default=True,
              help="With --mqtt: how long to listen.")
@click.option("--opcua", "opcua_url", metavar="URL", help="An OPC UA server: opc.tcp://host:4840")
@click.option("--site", default="plant", show_default=True, help="Site name for the draft.")
@click.option("--timezone", default="UTC", show_default=True, help="Site time zone (IANA).")
@click.option("--zone", default="DE", show_default=True, help="Grid zone for the draft.")
@click.option("--write", "write", type=click.Path(dir_okay=False),
              help="Write the drafted plant.toml here (default: stdout).")
def discover(influx: str | None, database: str | None, mqtt_url: str | None, topic: str,
             seconds: float, opcua_url: str | None, site: str, timezone: str, zone: str,
             write: str | None) -> None:
    """List the signals on a historian, broker or PLC and draft a plant.toml from them."""
    from .config import MqttBroker, OpcuaServer
    from .discover.draft import draft_config, guess

    chosen = [u for u in (influx, mqtt_url, opcua_url) if u]
    if len(chosen) != 1:
        raise click.UsageError("give one of --influx URL, --mqtt URL or --opcua URL")
    try:
        if influx:
            from .discover.influx import browse_influx

            found = browse_influx(influx, database)
            first = found[0].where.split(".")[0] if found else ""
            section = {"influx": {"url": influx, "database": database or first,
                                  "mode": "poll"}}
        elif mqtt_url:
            from .discover.mqtt import sniff_mqtt

            err.print(f"listening on {mqtt_url} to {topic!r} for {seconds:g} s …")
            found = sniff_mqtt(MqttBroker(url=mqtt_url), seconds, topic)
            section = {"mqtt": {"url": mqtt_url}}
        else:
            from .discover.opcua import browse_opcua

            found = browse_opcua(OpcuaServer(url=opcua_url).url)
            section = {"opcua": {"url": opcua_url}}
    except (OSError, ConnectionError, ValueError) as exc:
        raise click.ClickException(f"discovery failed: {exc}") from None
    for item in found:
        g = guess(item)
        samples = ", ".join(str(v) for v in item.samples[-3:])
        err.print(f"  {item.where or item.name:50} {g.role or '?':15} {samples[:40]}")
    err.print(f"{len(found)} signals found")
    text = draft_config(found, site, timezone, zone, section)
    if write:
        with open(write, "w", encoding="utf-8") as f:
            f.write(text)
        err.print(f"draft written to {write}: confirm each '# CONFIRM', then "
                  f"`carbonline check-config {write}`")
    else:
        click.echo(text)


@main.command("simulate")
@click.option("--scenario", default="normal-week", show_default=True,
              help="A shipped scenario (see --list) or a scenario .toml file.")
@click.option("--seed", default=1, show_default=True, help="Same seed, same bytes.")
@click.option("--duration", default=None, help="Plant time, e.g. 8h (default: the scenario's).")
@click.option("--start", default="2026-03-02T06:00:00Z", show_default=True,
              help="Plant time of the first reading (ISO 8601).")
@click.option("--lines", default=3, show_default=True, help="Production lines.")
@click.option("--machines", default=5, show_default=True, help="Machines per line.")
@click.option("--site", default="sim-plant", show_default=True, help="Site name.")
@click.option("--sites", default=1, show_default=True,
              help="Several sites (files only): <site>-1 … with their own files and configs.")
@click.option("--output", type=click.Path(dir_okay=False),
              help="Raw readings as line protocol; the grid series (.grid.csv), the outdoor "
                   "temperature (.weather.csv) and the ground truth (.truth.json) are written "
                   "beside it.")
@click.option("--mqtt", "mqtt_url", metavar="URL",
              help="Publish every reading on this broker (uns/<site>/<line>/<meter>).")
@click.option("--influx", "influx_url", metavar="URL",
              help="Write the raw readings into InfluxDB, as a historian holds them "
                   "(http://host:8086?db=NAME).")
@click.option("--opcua-port", "opcua_port", type=int,
              help="Serve the meters as an OPC UA server on 127.0.0.1:PORT (small plants).")
@click.option("--opcua-wait", "opcua_wait", default=5.0, show_default=True,
              help="Seconds the OPC UA server waits for clients before it plays.")
@click.option("--speed", default=None, type=float,
              help="Plant seconds per wall second for --mqtt/--opcua-port (default 60; 0: no "
                   "waiting).")
@click.option("--write-config", "write_config", type=click.Path(dir_okay=False),
              help="The plant.toml that replays (or, with --mqtt, runs on) the output as it is.")
@click.option("--list", "list_scenarios", is_flag=True, help="List the shipped scenarios.")
def simulate_command(scenario: str, seed: int, duration: str | None, start: str, lines: int,
                     machines: int, site: str, sites: int, output: str | None,
                     influx_url: str | None, mqtt_url: str | None,
                     opcua_port: int | None, opcua_wait: float, speed: float | None,
                     write_config: str | None, list_scenarios: bool) -> None:
    """Simulate an FMCG plant playing a scenario, with its labelled ground truth."""
    from pathlib import Path

    from .config import parse_duration
    from .simulate import files
    from .simulate.model import layout, simulate
    from .simulate.scenario import load_scenario, shipped

    if list_scenarios:
        for name in shipped():
            click.echo(f"{name:22} {load_scenario(name).description}")
        return
    if not (output or influx_url or mqtt_url or opcua_port):
        raise click.UsageError("give --output FILE.lp, --influx URL, --mqtt URL and/or "
                               "--opcua-port N (or --list)")
    try:
        chosen = load_scenario(scenario)
        seconds = parse_duration(duration) if duration else chosen.duration
        layout(lines, machines, site)  # sizes checked before anything is written
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if sites > 1 and (mqtt_url or opcua_port or influx_url):
        raise click.UsageError("--sites writes files: one --output and config per site")
    begin = to_ns(datetime.fromisoformat(start.replace("Z", "+00:00")))
    out = Path(output or f"{chosen.name}.lp")
    for k in range(1, sites + 1):  # a fleet: site k gets seed + k - 1 and its own files
        name = f"{site}-{k}" if sites > 1 else site
        plant = layout(lines, machines, name)
        signals = simulate(plant, chosen, begin, seconds, seed + k - 1)
        target = out.with_name(f"{out.stem}-{k}{out.suffix}") if sites > 1 else out
        config = Path(write_config) if write_config else None
        if config is not None and sites > 1:
            config = config.with_name(f"{config.stem}-{k}{config.suffix}")
        opcua_url = f"opc.tcp://127.0.0.1:{opcua_port}/" if opcua_port else None
        written = files.write_outputs(plant, signals, chosen, seed + k - 1, target,
                                      bool(output), config, mqtt_url, opcua_url)
        err.print(f"{chosen.name} {name}: " + (f"{written:,} lines to {target}; " if output
                                               else "") + f"grid series and ground truth "
                  f"beside {target}" + (f"; config {config}" if config else ""))
    if influx_url:
        from .simulate.historian import write_to_influx

        _timed(f"{chosen.name}: points to {influx_url}",
               lambda: write_to_influx(plant, signals, influx_url, speed or 0.0))
    if mqtt_url:
        from .simulate.mqtt import publish

        _timed(f"{chosen.name}: messages to {mqtt_url}",
               lambda: publish(plant, signals, mqtt_url, 60.0 if speed is None else speed))
    if opcua_port:
        import threading

        from .simulate.opcua import serve

        ready, go = threading.Event(), threading.Event()
        threading.Timer(opcua_wait, go.set).start()
        began = time.monotonic()
        changes = serve(plant, signals, opcua_port, 60.0 if speed is None else speed, ready, go)
        took = time.monotonic() - began - opcua_wait
        err.print(f"{chosen.name}: {changes:,} OPC UA changes on port {opcua_port} in "
                  f"{took:.1f} s ({changes / max(took, 1e-9):,.0f}/s)")


def _timed(what: str, send) -> None:
    """Run ``send`` (returns a count), then say how many went where, how fast."""
    began = time.monotonic()
    try:
        count = send()
    except ConnectionError as exc:
        raise click.ClickException(str(exc)) from None
    took = time.monotonic() - began
    err.print(f"{count:,} {what} in {took:.1f} s ({count / max(took, 1e-9):,.0f}/s)")


@main.command("demo")
@click.option("--scenario", default="valve-leak", show_default=True,
              help="A simulator scenario (carbonline simulate --list).")
@click.option("--hours", default=8.0, show_default=True, help="Plant time to simulate.")
@click.option("--seed", default=1, show_default=True, help="Same seed, same numbers.")
@click.option("--pace", default=None, type=float,
              help="Wall seconds per 5 simulated minutes (default 0.05 on a terminal, else 0).")
def demo(scenario: str, hours: float, seed: int, pace: float | None) -> None:
    """Run the simulated plant through the engine and show a live intensity table."""
    import tempfile
    import tomllib
    from pathlib import Path

    from .config import parse_config
    from .demo.table import IntensityTable
    from .simulate import files
    from .simulate.batches import batches
    from .simulate.model import layout, simulate
    from .simulate.scenario import load_scenario

    try:
        chosen = load_scenario(scenario)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    site = layout()
    start = to_ns(datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc))
    signals = simulate(site, chosen, start, hours * 3600, seed)
    console = Console()
    if not console.is_terminal:  # piped or logged: don't squeeze the table into 80 columns
        console = Console(width=110)
    pace = (0.05 if console.is_terminal else 0.0) if pace is None else pace
    table = IntensityTable()
    with tempfile.TemporaryDirectory() as folder:
        grid = Path(folder) / "grid.csv"
        files.write_grid_csv(signals, grid)
        plant = build_plant(parse_config(tomllib.loads(files.plant_toml(site, grid)), "demo"))
        engine = Engine(plant)
        with Live(table.render(), console=console, auto_refresh=False,
                  transient=not console.is_terminal) as live:
            for batch in batches(plant, signals):
                table.add(engine.ingest(batch))
                live.update(table.render(), refresh=True)
                time.sleep(pace)
            table.add(engine.flush())
            live.update(table.render(), refresh=True)
    if not console.is_terminal:
        console.print(table.render())
    err.print(f"scenario {chosen.name}: {chosen.description}")
    _print_stats(engine.stats)


@main.command("evaluate")
@click.option("--scenario", "scenarios", multiple=True,
              help="A shipped scenario (repeatable; default: all of them).")
@click.option("--seeds", default=10, show_default=True, help="Seeds per scenario (1 … N).")
def evaluate_command(scenarios: tuple[str, ...], seeds: int) -> None:
    """Score the analyser on simulator scenarios: detection delay, cause, false alerts."""
    from .analysis.evaluate import Summary, run_scenario
    from .simulate.scenario import shipped

    names = scenarios or tuple(shipped())
    pm = get_manager()
    summaries = []
    for name in names:
        runs = [run_scenario(name, seed, pm) for seed in range(1, seeds + 1)]
        summaries.append(Summary(name, runs))
        err.print(f"{name}: {seeds} seeds done")
    click.echo(evaluation_table(summaries, seeds))


def evaluation_table(summaries: list, seeds: int) -> str:
    """The markdown table of ``carbonline evaluate`` (kept in the README)."""
    rows = ["| scenario | should | detected | max delay (sim. min) | right cause | "
            "first alert (seed 1) | false alerts / sim. week |",
            "|---|---|---:|---:|---:|---|---:|"]
    for s in summaries:
        delay = "—" if s.max_delay is None else f"{s.max_delay:.0f}"
        should = "alert" if s.alerting else "stay quiet"
        found = f"{s.detected}/{seeds}" if s.alerting else "—"
        right = f"{s.right}/{seeds}" if s.alerting else "—"
        rows.append(f"| {s.scenario} | {should} | {found} | {delay} | {right} | {s.top()} | "
                    f"{s.false_per_week:.1f} |")
    return "\n".join(rows)


@main.command("factors")
@click.option("--zone", help="Grid zone: DE, US-TX, SE-SE3 …")
@click.option("--at", "at", default=None, help="ISO 8601 time (default: now).")
@click.option("--basis", type=click.Choice(["location", "market"]), default="location",
              show_default=True, help="Scope 2 method.")
@click.option("--list", "list_zones", is_flag=True, help="List the shipped zones and datasets.")
def factors(zone: str | None, at: str | None, basis: str, list_zones: bool) -> None:
    """Show a zone's grid factor from the shipped tables, with its provenance."""
    from .factors.tables import GridFactorTable, zone_problem

    table = GridFactorTable.shipped()
    if list_zones:
        for row in sorted(table, key=lambda r: (r.zone, r.dataset)):
            flags = f"  [{'; '.join(row.flags)}]" if row.flags else ""
            click.echo(f"{row.zone:8} {row.kg_per_kwh:8.5f} kg/kWh  {row.year}  {row.type:9} "
                       f"{row.dataset}{flags}")
        click.echo(f"{len(table)} rows; datasets: {', '.join(table.datasets())}")
        return
    if zone is None:
        raise click.UsageError("give --zone ZONE or --list")
    problem = zone_problem(zone)
    row = None if problem else table.factor(zone)
    if row is None:
        raise click.ClickException(problem or f"no shipped grid factor for zone {zone!r}")
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")) if at else datetime.now(timezone.utc)
    click.echo(f"{zone} {basis}-based at {moment.isoformat()}: {row.kg_per_kwh} kg CO₂e/kWh")
    click.echo(f"  dataset  {row.dataset} ({row.year}{', older than asked: estimated' if row.year < moment.year else ''})")
    click.echo(f"  source   {row.source}")
    click.echo(f"  licence  {row.licence}")
    click.echo(f"  type     {row.type}, {row.gases}")
    if row.flags:
        click.echo(f"  flags    {'; '.join(row.flags)}")
    if basis == "market":
        click.echo("  market   no contractual instrument configured: the grid average stands in "
                   "(GHG Protocol Scope 2 Guidance), estimated")


def _print_stats(stats: EngineStats) -> None:
    err.print(f"{stats.accepted:,} readings accepted, {stats.context_changes} context changes")
    if stats.rejected:
        err.print("rejected input by reason:")
        for reason, count in stats.rejected.most_common():
            example = stats.examples[reason][0]
            err.print(f"  {reason.value:14} {count:>9,}  e.g. {example.detail} {example.raw}"[:300])




main.add_command(grafana)
main.add_command(node_red)
main.add_command(report)
main.add_command(export_command)
main.add_command(audit)
