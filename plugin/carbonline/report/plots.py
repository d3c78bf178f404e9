"""The HTML report's plots, drawn with matplotlib (the ``report`` extra) from :mod:`.plotdata`
tables and rendered as SVG text: vector, self-contained, no JavaScript library to ship.

Each ``draw_*`` takes exactly the rows exported as CSV, so the plot and its data cannot
disagree. Text stays text in the SVG (``svg.fonttype = none``): small, searchable.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from datetime import datetime

from .plotdata import PlotData

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
except ImportError:  # pragma: no cover - only without the extra
    Figure = None  # type: ignore[assignment,misc]

WIDTH_IN, HEIGHT_IN = 10.0, 4.0


def require_matplotlib() -> None:
    """Fail with the fix when the ``report`` extra is not installed."""
    if Figure is None:
        raise RuntimeError("the HTML report draws with matplotlib: "
                           "pip install 'carbonline[report]'")


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _series(plot: PlotData) -> dict[str, list[dict]]:
    """The plot's rows grouped by ``site/line`` (in row order)."""
    out: dict[str, list[dict]] = defaultdict(list)
    for row in plot.as_table():
        out[f"{row['site']}/{row['line']}"].append(row)
    return out


def draw_intensity(plot: PlotData) -> Figure:
    """One solid line per site/line (intensity) and a dashed one (its baseline)."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
    ax = fig.add_subplot()
    for label, rows in _series(plot).items():
        times = [_when(r["bucket_start"]) for r in rows]
        (drawn,) = ax.plot(times, [_nan(r["co2e_per_unit_kg"]) for r in rows], label=label)
        ax.plot(times, [_nan(r["baseline_co2e_per_unit_kg"]) for r in rows], linestyle="--",
                color=drawn.get_color(), label=f"{label} baseline")
    ax.set_ylabel("kg CO2e / unit")
    ax.legend(fontsize="small", ncol=2)
    return fig


def draw_sku_distribution(plot: PlotData) -> Figure:
    """A box per site/line/SKU of the 1-minute intensities."""
    groups: dict[str, list[float]] = defaultdict(list)
    for row in plot.as_table():
        groups[f"{row['site']}/{row['line']}/{row['sku'] or '-'}"].append(
            row["co2e_per_unit_kg"])
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
    ax = fig.add_subplot()
    if groups:
        ax.boxplot(list(groups.values()), tick_labels=list(groups), showfliers=False)
        ax.tick_params(axis="x", labelrotation=30, labelsize="small")
    ax.set_ylabel("kg CO2e / unit")
    return fig


def draw_alerts(plot: PlotData) -> Figure:
    """A bar per alert from firing to resolved, one row per site/line; colour by cause,
    hatched while still open at the period's end."""
    rows = plot.as_table()
    lanes = sorted({f"{r['site']}/{r['line']}" for r in rows})
    fig = Figure(figsize=(WIDTH_IN, 1.5 + 0.5 * max(len(lanes), 1)))
    ax = fig.add_subplot()
    causes = sorted({r["cause"] for r in rows})
    colours = {c: f"C{i}" for i, c in enumerate(causes)}
    for r in rows:
        start, end = _when(r["start"]), _when(r["end"])
        lane = lanes.index(f"{r['site']}/{r['line']}")
        ax.barh(lane, end - start, left=start, color=colours[r["cause"]], height=0.6,
                hatch="//" if r["open"] else None)  # hatched: still open at the period end
    ax.set_yticks(range(len(lanes)), lanes)
    for cause, colour in colours.items():
        ax.plot([], [], color=colour, linewidth=6, label=cause)
    if causes:
        ax.legend(fontsize="small")
    ax.set_title("no alert in the period" if not rows else "")
    return fig


def draw_scope_split(plot: PlotData) -> Figure:
    """Per site/line two stacked bars: Scope 1 + Scope 2 location-based, and market-based."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
    ax = fig.add_subplot()
    rows = plot.as_table()
    x = range(len(rows))
    scope1 = [r["scope1_co2e_kg"] for r in rows]
    ax.bar([i - 0.2 for i in x], scope1, width=0.4, color="C3", label="Scope 1")
    ax.bar([i - 0.2 for i in x], [r["scope2_location_co2e_kg"] for r in rows], width=0.4,
           bottom=scope1, color="C0", label="Scope 2 location-based")
    ax.bar([i + 0.2 for i in x], scope1, width=0.4, color="C3")
    ax.bar([i + 0.2 for i in x], [r["scope2_market_co2e_kg"] for r in rows], width=0.4,
           bottom=scope1, color="C2", label="Scope 2 market-based")
    ax.set_xticks(list(x), [f"{r['site']}/{r['line']}" for r in rows])
    ax.set_ylabel("kg CO2e")
    ax.legend(fontsize="small")
    return fig


def draw_rebound(plot: PlotData) -> Figure:
    """Left: total kg CO₂e per day per site/line; right: kg CO₂e per unit, same days."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
    total, intensity = fig.subplots(1, 2)
    for label, rows in _series(plot).items():
        days = [r["day"] for r in rows]
        total.plot(days, [r["co2e_kg"] for r in rows], marker="o", label=label)
        intensity.plot(days, [_nan(r["co2e_per_unit_kg"]) for r in rows], marker="o",
                       label=label)
    total.set_ylabel("kg CO2e")
    intensity.set_ylabel("kg CO2e / unit")
    for ax in (total, intensity):
        ax.tick_params(axis="x", labelrotation=30, labelsize="small")
    intensity.legend(fontsize="small")
    return fig


DRAW = {"intensity_vs_baseline": draw_intensity, "sku_distribution": draw_sku_distribution,
        "alert_timeline": draw_alerts, "scope_split": draw_scope_split,
        "rebound": draw_rebound}


def draw(plot: PlotData) -> Figure:
    """The figure of ``plot``, titled."""
    require_matplotlib()
    fig = DRAW[plot.name](plot)
    fig.suptitle(plot.title)
    fig.set_layout_engine("tight")
    return fig


def svg_of(fig: Figure) -> str:
    """The figure as standalone SVG text."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "carbonline"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})  # same data, same bytes
    return buffer.getvalue()
