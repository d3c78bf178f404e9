"""The HTML report in a real headless Chromium (Debian ``chromium``): every plot image decodes,
the page records no script or loading error, the browser logs no console error; and the PDF
printed beside it is a PDF."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from carbonline.report.html import headless_args


def test_report_opens_in_chromium_without_errors(chromium: Path, report_dir: Path,
                                                 tmp_path: Path) -> None:
    page = report_dir / "report.html"
    result = subprocess.run(
        [*headless_args(str(chromium), str(tmp_path / "profile")), "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    (html_tag,) = re.findall(r"<html[^>]*>", result.stdout)
    attributes = dict(re.findall(r'([a-z-]+)="([^"]*)"', html_tag))
    assert attributes.get("data-checked") == "yes", html_tag  # the page's load check ran
    assert attributes["data-plots-expected"] == "5"
    assert attributes["data-plots-loaded"] == "5"
    assert attributes["data-errors"] == "[]"
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console  # no console message at all: no error, no warning


def test_every_plot_has_its_data_beside_it(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    links = re.findall(r'<a href="(plots/[a-z_]+\.csv)">', html)
    assert len(links) == 5
    for link in links:
        assert (report_dir / link).stat().st_size > 0
    assert html.count('src="data:image/svg+xml;base64,') == 5
    assert "http://" not in html and "https://" not in html  # self-contained


def test_pdf_printed_when_chromium_is_present(report_dir: Path) -> None:
    pdf = report_dir / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf.stat().st_size > 20_000  # five plots, not an empty page
