"""``carbonline audit verify`` and ``carbonline audit explain``: thin shells over
:mod:`.verify` and :mod:`.explain`."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from ..records import to_ns
from .explain import check, render
from .ledger import FILE_NAME, Ledger
from .verify import verify


def _ledger_file(ledger: str | None, state_dir: str | None, config: str | None) -> Path:
    """The ledger named by exactly one of --ledger, --state-dir or --config."""
    given = [x for x in (ledger, state_dir, config) if x]
    if len(given) != 1:
        raise click.UsageError("give one of --ledger PATH, --state-dir DIR or --config TOML")
    if ledger:
        return Path(ledger)
    if state_dir:
        return Path(state_dir) / FILE_NAME
    from ..config import ConfigError, load_config

    try:
        folder = load_config(config).run.state_dir
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration\n{exc}") from None
    if not folder:
        raise click.ClickException(f"{config} has no [run] state_dir, so no ledger")
    return Path(folder) / FILE_NAME


def _where(f):
    f = click.option("--config", help="A plant.toml: its [run] state_dir's ledger.")(f)
    f = click.option("--state-dir", type=click.Path(file_okay=False),
                     help="The run's state directory (its ledger.sqlite).")(f)
    return click.option("--ledger", "ledger", type=click.Path(dir_okay=False),
                        help="The ledger file itself.")(f)


@click.group("audit")
def audit() -> None:
    """Check the audit ledger's hash chain and trace a number to its meters and factors."""


@audit.command("verify")
@_where
def verify_command(ledger: str | None, state_dir: str | None, config: str | None) -> None:
    """Check every record's hash chain; name each edited, removed or reordered record."""
    path = _ledger_file(ledger, state_dir, config)
    if not path.exists():
        raise click.ClickException(f"no audit ledger at {path}")
    verdict = verify(path)
    for problem in verdict.problems:
        click.echo(f"FAIL {problem}")
    if not verdict.ok:
        raise click.ClickException(f"{path}: {len(verdict.problems)} problem(s) in "
                                   f"{verdict.records} records")
    click.echo(f"{path}: {verdict.records} records, chain intact; head hash "
               f"{verdict.head_hash}")


@audit.command("explain")
@_where
@click.option("--line", required=True, help="The line (as tagged in carbon_intensity).")
@click.option("--window", "moment", required=True,
              help="A time inside the window (ISO 8601; without an offset, UTC).")
@click.option("--kind", default="1m", show_default=True, help="Window kind: 1m, 15m, shift, "
              "day, order, …")
@click.option("--sku", help="The SKU, when the window was split at a changeover.")
@click.option("--revision", type=int, help="An earlier revision (default: the current one).")
def explain_command(ledger: str | None, state_dir: str | None, config: str | None, line: str,
                    moment: str, kind: str, sku: str | None, revision: int | None) -> None:
    """Trace a window's CO₂e to its meter deltas, factors and formula, and recompute it
    from the ledger alone."""
    path = _ledger_file(ledger, state_dir, config)
    stamp = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    try:
        book = Ledger(path, readonly=True)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        found = book.find(line, kind, to_ns(stamp), sku)
    finally:
        book.close()
    if not found:
        raise click.ClickException(f"no {kind} window of line {line} holds {moment} in {path}")
    skus = sorted({r.sku for r in found})
    if len(skus) > 1:
        raise click.ClickException(f"the window has rows for SKUs {', '.join(skus)}: give --sku")
    chosen = [r for r in found if revision is None or r.revision == revision]
    if not chosen:
        raise click.ClickException(f"no revision {revision}; the window has revisions "
                                   f"{', '.join(str(r.revision) for r in found)}")
    record = chosen[-1]
    click.echo(render(record.body, [r.seq for r in found if r.seq < record.seq]))
    if not all(c.ok for c in check(record.body)):
        raise SystemExit(1)
