"""The plant manager's report: one self-contained HTML file (styles inline, each plot an SVG
image in a ``data:`` URI, no network), with each plot's data linked beside it as CSV, and a
PDF printed from it when a headless Chromium is on the machine.

The page checks itself: a small inline script records every script error and, once loaded,
whether each plot image decoded, into ``data-*`` attributes of ``<html>`` — what a browser test
(or a curious reader's developer tools) reads.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path

from .model import GAP_FILLING, Esrs, Inventory
from .plotdata import PlotData
from .tables import esrs_table, ghg_tables, period_dict

#: Browsers that print a page to PDF headless, in the order looked for on PATH.
BROWSERS = ("chromium", "chromium-browser", "google-chrome")

_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
figure{margin:1rem 0 2rem}img.plot{width:100%;height:auto}
.note{color:#555;font-size:.9rem}"""

#: Records errors before anything else runs; on load, counts the plot images that decoded.
_CHECK = """window.__errors=[];
addEventListener('error',e=>{
window.__errors.push(String(e.message||e.target&&e.target.src||e).slice(0,200))},true);
addEventListener('unhandledrejection',e=>{window.__errors.push(String(e.reason))});
addEventListener('load',()=>{const imgs=[...document.querySelectorAll('img.plot')];
const ok=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;
const d=document.documentElement.dataset;d.plotsExpected=imgs.length;d.plotsLoaded=ok;
d.errors=JSON.stringify(window.__errors);d.checked='yes';});"""


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}"
    return escape("" if value is None else str(value))


def _table(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "<p class=note>none</p>"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(plot: PlotData, svg: str, csv_href: str) -> str:
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (f"<figure id={escape(plot.name)}><img class=plot alt=\"{escape(plot.title)}\" "
            f"src=\"data:image/svg+xml;base64,{data}\"><figcaption>{escape(plot.title)} — "
            f"<a href=\"{escape(csv_href)}\">data (CSV)</a></figcaption></figure>")


def render(inv: Inventory, esrs: Esrs, plots: list[tuple[PlotData, str, str]]) -> str:
    """The report page: ``plots`` are (data, SVG text, relative CSV link) in page order."""
    period = period_dict(inv.period)
    tables = ghg_tables(inv)
    sections = [
        ("GHG Protocol inventory — sites", _table(tables["sites"])),
        ("Per line: Scope 1, Scope 2 location- and market-based", _table(tables["lines"])),
        ("Scope 1 by fuel and gas", _table(tables["scope1_by_fuel"])),
        ("ESRS E1-5 and E1-6", _table(esrs_table(esrs))),
        ("Data quality", _table([{k: v for k, v in row.items() if k != "gap_filling"}
                                 for row in tables["quality"]])),
        ("Grid factors used", _table(tables["factors"])),
    ]
    notes = "".join(f"<li>{escape(n)}</li>" for n in
                    [*esrs.energy.basis, *esrs.notes, f"Gap filling: {GAP_FILLING}."])
    return "".join([
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>carbonline report {escape(period['from'])} – {escape(period['to'])}</title>",
        f"<script>{_CHECK}</script><style>{_STYLE}</style></head><body>",
        f"<h1>Carbon report {escape(period['from'])} – {escape(period['to'])}</h1>",
        f"<p>Sites: {escape(', '.join(sorted({t.site for t in inv.lines})) or 'none')}. "
        f"GWP100 set {escape(inv.gwp_set)}. Revision: {escape(inv.revision)}.</p>",
        "<h2>Plots</h2>",
        *(_figure(plot, svg, href) for plot, svg, href in plots),
        *(f"<h2>{escape(title)}</h2>{body}" for title, body in sections),
        f"<h2>Notes</h2><ul class=note>{notes}</ul></body></html>",
    ])


def browser() -> str | None:
    """A headless-capable Chromium on PATH, or ``None``."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def headless_args(program: str, profile: str) -> list[str]:
    """Chromium headless with nothing that reaches the network, in a throwaway profile."""
    return [program, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            f"--user-data-dir={profile}"]


def print_pdf(page: Path, pdf: Path, timeout: float = 120.0) -> Path | None:
    """``page`` printed to ``pdf`` by headless Chromium; ``None`` when no browser is present.
    A browser that fails raises with its own words."""
    program = browser()
    if program is None:
        return None
    with tempfile.TemporaryDirectory(prefix="carbonline-chromium-") as profile:
        result = subprocess.run(
            [*headless_args(program, profile), "--no-pdf-header-footer",
             f"--print-to-pdf={pdf}", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=timeout)
    if result.returncode or not pdf.exists():
        raise RuntimeError(f"{program} could not print {page} to PDF:\n{result.stderr[-2000:]}")
    return pdf
