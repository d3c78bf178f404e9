"""Pure parts of the report: site-local days, revenue pro rata, ESRS totals, the CLI's checks."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from carbonline.config import PlantConfig, Report, RevenuePeriod
from carbonline.records import to_ns
from carbonline.report.cli import report
from carbonline.report.collect import day_spans
from carbonline.report.esrs import revenue_of
from carbonline.report.model import Period

BERLIN = ZoneInfo("Europe/Berlin")


def at(*parts: int) -> int:
    return to_ns(datetime(*parts, tzinfo=BERLIN))


def test_days_are_cut_at_local_midnight_across_dst() -> None:
    """2026-03-29 is 23 hours long in Berlin (clocks go forward)."""
    spans = day_spans(Period(at(2026, 3, 28, 12), at(2026, 3, 30, 6), "Europe/Berlin"))
    assert [d for d, _, _ in spans] == [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)]
    assert spans[0][1] == at(2026, 3, 28, 12)  # clipped to the period
    assert spans[1][2] - spans[1][1] == 23 * 3600 * 10**9
    assert spans[2] == (date(2026, 3, 30), at(2026, 3, 30, 0), at(2026, 3, 30, 6))


def plant_with(revenue: list[RevenuePeriod]) -> PlantConfig:
    return PlantConfig.model_construct(report=Report(currency="CHF", revenue=revenue))


def test_revenue_pro_rata_over_two_years() -> None:
    years = [RevenuePeriod(start=date(2025, 1, 1), end=date(2026, 1, 1), net_revenue=365e6),
             RevenuePeriod(start=date(2026, 1, 1), end=date(2027, 1, 1), net_revenue=730e6)]
    period = Period(at(2025, 12, 31), at(2026, 1, 2), "Europe/Berlin")
    revenue = revenue_of(period, plant_with(years))
    assert revenue is not None and revenue.currency == "CHF"
    assert revenue.amount == pytest.approx(1e6 + 2e6)


def test_no_revenue_when_the_period_is_not_covered() -> None:
    year = [RevenuePeriod(start=date(2026, 1, 1), end=date(2027, 1, 1), net_revenue=1e6)]
    assert revenue_of(Period(at(2025, 12, 31), at(2026, 1, 2), "Europe/Berlin"),
                      plant_with(year)) is None
    assert revenue_of(Period(at(2026, 5, 1), at(2026, 5, 2), "Europe/Berlin"), None) is None


def test_revenue_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="must be after"):
        RevenuePeriod(start=date(2026, 1, 1), end=date(2026, 1, 1), net_revenue=1.0)


@pytest.mark.parametrize("args, words", [
    (["--from", "2026-03-03", "--to", "2026-03-04"], "give --config, or --influx and --database"),
    (["--from", "2026-03-04", "--to", "2026-03-03", "--influx", "http://127.0.0.1:9",
      "--database", "x"], "--to must be after --from"),
    (["--from", "March", "--to", "2026-03-04", "--influx", "http://127.0.0.1:9",
      "--database", "x"], "is not an ISO 8601 date"),
])
def test_cli_refuses_bad_arguments(args: list[str], words: str) -> None:
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 2
    assert words in result.output


def test_cli_names_an_unreachable_server(tmp_path) -> None:
    result = CliRunner().invoke(report, ["--from", "2026-03-03", "--to", "2026-03-04",
                                         "--influx", "http://127.0.0.1:9", "--database", "x",
                                         "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 1
    assert "http://127.0.0.1:9" in result.output
