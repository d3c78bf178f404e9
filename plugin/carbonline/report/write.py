"""Writing a report's files into a folder: ``ghg_*.csv`` + ``ghg.json``, ``esrs_e1.csv`` +
``esrs_e1.json``, and ``report.html`` with ``plots/<name>.csv`` (and ``.svg``) beside it,
plus ``report.pdf`` when a headless Chromium is present."""

from __future__ import annotations

from pathlib import Path

from .collect import Collected
from .html import print_pdf, render
from .model import Esrs, Inventory
from .plotdata import all_plots
from .tables import write_csv, write_esrs, write_ghg

FORMATS = ("ghg", "esrs", "html")


def write_html(data: Collected, inv: Inventory, esrs: Esrs, out: Path,
               pdf: bool = True) -> list[Path]:
    """``report.html`` and each plot's CSV and SVG under ``plots/``; ``report.pdf`` too when
    ``pdf`` and a browser can print it."""
    from .plots import draw, svg_of, require_matplotlib

    require_matplotlib()
    folder = out / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    paths, drawn = [], []
    for plot in all_plots(data, inv):
        paths.append(write_csv(folder / f"{plot.name}.csv", plot.as_table()))
        svg = svg_of(draw(plot))
        svg_path = folder / f"{plot.name}.svg"
        svg_path.write_text(svg, encoding="utf-8")
        paths.append(svg_path)
        drawn.append((plot, svg, f"plots/{plot.name}.csv"))
    page = out / "report.html"
    page.write_text(render(inv, esrs, drawn), encoding="utf-8")
    paths.append(page)
    printed = print_pdf(page, out / "report.pdf") if pdf else None
    return paths + ([printed] if printed else [])


def write_report(data: Collected, inv: Inventory, esrs: Esrs, formats: set[str], out: Path,
                 pdf: bool = True) -> list[Path]:
    """The files of ``formats`` (a subset of :data:`FORMATS`) in ``out``, which is created."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if "ghg" in formats:
        paths += write_ghg(inv, out)
    if "esrs" in formats:
        paths += write_esrs(esrs, out)
    if "html" in formats:
        paths += write_html(data, inv, esrs, out, pdf)
    return paths
