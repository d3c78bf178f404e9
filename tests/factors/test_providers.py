"""The built-in grid factor providers (a configured constant, or a local hour-of-day profile),
called directly as the ``carbonline_emission_factors`` hook would call them.

Every expected value is worked out by hand from the site's UTC offset on that date, so a wrong
zone, a DST slip or a weekday taken in UTC instead of local time shows as a wrong number."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from carbonline.config import ConfigError, parse_config
from carbonline.factors.providers import carbonline_emission_factors
from carbonline.plant import PlantModel, build_plant
from carbonline.records import NS_PER_S, FactorSeries

#: 24 distinct hourly values: local hour h → 0.300 + h/1000 (hour 2 → 0.302, hour 23 → 0.323).
PROFILE = [round(0.300 + h / 1000, 3) for h in range(24)]

#: 7 rows of 24 (Monday first): weekday d (Mon = 0), local hour h → (d + 1) + h/100,
#: so Monday 12:00 → 1.12 and Sunday 23:00 → 7.23.
WEEKLY = [[round(d + 1 + h / 100, 2) for h in range(24)] for d in range(7)]


def utc(*args: int) -> int:
    """ns since the epoch of a UTC wall-clock time."""
    return int(datetime(*args, tzinfo=timezone.utc).timestamp()) * NS_PER_S


def plant(factors: dict, tz: str = "Europe/Berlin", zone: str = "DE") -> PlantModel:
    return build_plant(parse_config({
        "site": {"name": "p", "timezone": tz, "grid_zone": zone},
        "factors": factors,
        "lines": [{"id": "l1"}],
        "machines": [{"id": "m1", "line": "l1"}],
        "meters": [{"id": "e1", "role": "energy_counter", "machine": "m1", "unit": "kWh"}],
    }))


def ask(model: PlantModel, start: int, end: int, basis: str = "location",
        zone: str = "DE") -> FactorSeries:
    series = carbonline_emission_factors(plant=model, zone=zone, start=start, end=end,
                                         basis=basis)
    assert series is not None
    assert series.zone == zone
    assert series.starts[0] <= start, "the first step must be in force at the asked start"
    assert np.all(np.diff(series.starts) > 0), "steps must be in ascending time order"
    return series


def values_at(series: FactorSeries, instants: list[int]) -> list[float]:
    return series.at(np.array(instants, dtype=np.int64)).tolist()


START = utc(2026, 3, 2, 0, 0)
END = utc(2026, 3, 3, 0, 0)


# --- constant ------------------------------------------------------------------------------


def test_constant_location_value() -> None:
    series = ask(plant({"grid_kg_per_kwh": 0.38, "source": "UBA 2025"}), START, END)
    assert values_at(series, [START, START + 3600 * NS_PER_S, END - 1]) == [0.38, 0.38, 0.38]
    assert series.provenance.provider == "constant"
    assert series.provenance.dataset == "UBA 2025"
    assert series.provenance.basis == "location"
    assert series.provenance.estimated is False


def test_market_without_a_market_factor_falls_back_to_location_estimated() -> None:
    """GHG Protocol Scope 2: with no contractual instrument the market-based figure is the grid
    average, and the result says so (basis market, estimated)."""
    series = ask(plant({"grid_kg_per_kwh": 0.38}), START, END, basis="market")
    assert values_at(series, [START, END - 1]) == [0.38, 0.38]
    assert series.provenance.basis == "market"
    assert series.provenance.estimated is True


def test_market_factor_is_used_when_configured() -> None:
    model = plant({"grid_kg_per_kwh": 0.38, "market_kg_per_kwh": 0.12})
    market = ask(model, START, END, basis="market")
    assert values_at(market, [START, END - 1]) == [0.12, 0.12]
    assert market.provenance.basis == "market"
    assert market.provenance.estimated is False
    # and the location figure is unchanged by it
    assert values_at(ask(model, START, END), [START]) == [0.38]


def test_market_fallback_follows_the_profile() -> None:
    """Without a market factor a profile site's market series is its location profile."""
    model = plant({"profile": PROFILE})
    # 2026-03-02 is in CET (UTC+1): 11:00Z is 12:00 local → PROFILE[12] = 0.312
    series = ask(model, START, END, basis="market")
    assert values_at(series, [utc(2026, 3, 2, 11, 0)]) == [0.312]
    assert series.provenance.basis == "market" and series.provenance.estimated is True


@pytest.mark.parametrize("basis", ["location", "market"])
@pytest.mark.parametrize("factors", [{"grid_kg_per_kwh": 0.38}, {"profile": PROFILE}])
def test_other_zones_are_left_to_other_providers(factors: dict, basis: str) -> None:
    model = plant(factors, zone="DE")
    for zone in ["FR", "DE-LU", ""]:
        assert carbonline_emission_factors(
            plant=model, zone=zone, start=START, end=END, basis=basis
        ) is None


# --- hour-of-day profile ---------------------------------------------------------------------


def test_profile_across_the_spring_dst_change() -> None:
    """Europe/Berlin, Sunday 2026-03-29: at 01:00Z clocks go from 02:00 CET to 03:00 CEST, so
    local hour 2 never happens and hour 3 starts one UTC hour after hour 1 did."""
    model = plant({"profile": PROFILE})
    start, end = utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0)  # the local day
    series = ask(model, start, end)
    expected = {
        utc(2026, 3, 28, 23, 30): PROFILE[0],  # 00:30 CET
        utc(2026, 3, 29, 0, 0): PROFILE[1],  # 01:00 CET
        utc(2026, 3, 29, 0, 30): PROFILE[1],  # 01:30 CET
        utc(2026, 3, 29, 0, 59, 59): PROFILE[1],  # 01:59:59 CET
        utc(2026, 3, 29, 1, 0): PROFILE[3],  # 03:00 CEST
        utc(2026, 3, 29, 1, 30): PROFILE[3],  # 03:30 CEST
        utc(2026, 3, 29, 2, 0): PROFILE[4],  # 04:00 CEST
        utc(2026, 3, 29, 21, 59): PROFILE[23],  # 23:59 CEST
    }
    assert values_at(series, list(expected)) == list(expected.values())
    # quarter-hourly through the local day: 23 hours, hour 2 skipped
    quarters = list(range(start, end, 15 * 60 * NS_PER_S))
    in_force = values_at(series, quarters)
    hours = [h for h in range(24) if h != 2]
    assert in_force == [PROFILE[h] for h in hours for _ in range(4)]


def test_profile_across_the_autumn_dst_change() -> None:
    """Europe/Berlin, Sunday 2026-10-25: at 01:00Z clocks go from 03:00 CEST back to 02:00 CET,
    so local hour 2 lasts two UTC hours."""
    model = plant({"profile": PROFILE})
    series = ask(model, utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0))
    expected = {
        utc(2026, 10, 24, 22, 30): PROFILE[0],  # 00:30 CEST
        utc(2026, 10, 24, 23, 30): PROFILE[1],  # 01:30 CEST
        utc(2026, 10, 25, 0, 0): PROFILE[2],  # 02:00 CEST
        utc(2026, 10, 25, 0, 45): PROFILE[2],  # 02:45 CEST
        utc(2026, 10, 25, 1, 0): PROFILE[2],  # 02:00 CET, the second time
        utc(2026, 10, 25, 1, 45): PROFILE[2],  # 02:45 CET
        utc(2026, 10, 25, 2, 0): PROFILE[3],  # 03:00 CET
        utc(2026, 10, 25, 22, 59): PROFILE[23],  # 23:59 CET
    }
    assert values_at(series, list(expected)) == list(expected.values())


@pytest.mark.parametrize(
    ("tz", "last_of_5", "first_of_6"),
    [
        # UTC+5:30: local 06:00 is 00:30Z
        ("Asia/Kolkata", utc(2026, 3, 2, 0, 29), utc(2026, 3, 2, 0, 30)),
        # UTC+5:45: local 06:00 is 00:15Z
        ("Asia/Kathmandu", utc(2026, 3, 2, 0, 14), utc(2026, 3, 2, 0, 15)),
    ],
)
def test_profile_in_a_zone_off_the_whole_hour(tz: str, last_of_5: int, first_of_6: int) -> None:
    """The local hour changes at :30 or :45 UTC; the step must fall there, not on the hour."""
    # a start that is on no step boundary, to see the first step reach back to it
    series = ask(plant({"profile": PROFILE}, tz=tz), utc(2026, 3, 1, 23, 7), END)
    assert values_at(series, [last_of_5, first_of_6]) == [PROFILE[5], PROFILE[6]]


def test_weekly_profile_uses_the_local_weekday() -> None:
    """March 2026 in Berlin is CET (UTC+1), so local midnight is 23:00Z the day before."""
    model = plant({"profile": WEEKLY})
    series = ask(model, utc(2026, 3, 1, 22, 0), utc(2026, 3, 8, 12, 0))
    expected = {
        utc(2026, 3, 1, 22, 30): 7.23,  # Sunday 23:30
        utc(2026, 3, 1, 23, 0): 1.00,  # Monday 00:00 (still Sunday in UTC)
        utc(2026, 3, 1, 23, 30): 1.00,  # Monday 00:30
        utc(2026, 3, 2, 11, 0): 1.12,  # Monday 12:00
        utc(2026, 3, 3, 22, 59): 2.23,  # Tuesday 23:59
        utc(2026, 3, 4, 6, 45): 3.07,  # Wednesday 07:45
        utc(2026, 3, 5, 23, 0): 5.00,  # Friday 00:00
        utc(2026, 3, 7, 12, 15): 6.13,  # Saturday 13:15
        utc(2026, 3, 8, 10, 0): 7.11,  # Sunday 11:00
    }
    assert values_at(series, list(expected)) == pytest.approx(list(expected.values()))


def test_weekly_profile_on_the_dst_sunday() -> None:
    """2026-03-29 01:30Z is Sunday 03:30 CEST; 22:30Z is already Monday 00:30 CEST."""
    model = plant({"profile": WEEKLY})
    series = ask(model, utc(2026, 3, 28, 23, 0), utc(2026, 3, 30, 0, 0))
    instants = [utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 22, 30)]
    assert values_at(series, instants) == pytest.approx([7.01, 7.03, 1.00])


def test_profile_provenance_names_the_configured_source() -> None:
    series = ask(plant({"profile": PROFILE, "source": "my TSO 2025 hourly mean"}), START, END)
    assert series.provenance.provider == "profile"
    assert series.provenance.dataset == "my TSO 2025 hourly mean"
    assert series.provenance.basis == "location"


def test_without_a_configured_factor_the_shipped_table_answers():
    from carbonline.factors.tables import GridFactorTable

    plant = build_plant(parse_config({
        "site": {"name": "t", "grid_zone": "DE"},
        "lines": [{"id": "l1"}], "machines": [{"id": "m", "line": "l1"}],
        "meters": [{"id": "p", "role": "power", "machine": "m", "unit": "kW"}],
    }))
    row = GridFactorTable.shipped().factor("DE")
    asked = int(datetime(2026, 6, 1, 12, tzinfo=timezone.utc).timestamp()) * NS_PER_S
    series = carbonline_emission_factors(plant, "DE", asked, asked + 3600 * NS_PER_S, "location")
    assert float(series.at(np.array([asked]))[0]) == row.kg_per_kwh
    source = series.provenance
    assert (source.provider, source.dataset, source.year) == ("table", row.dataset, row.year)
    assert source.type == "lifecycle"  # OWID/Ember intensity is a lifecycle figure
    assert source.estimated  # a 2023 value used for 2026 is flagged, with its year kept


def test_zones_are_checked_at_load():
    base = {"lines": [{"id": "l1"}], "machines": [{"id": "m", "line": "l1"}],
            "meters": [{"id": "p", "role": "power", "machine": "m", "unit": "kW"}]}
    with pytest.raises(ConfigError, match="site.grid_zone: 'DEU' looks like an ISO alpha-3 code.*write 'DE'"):
        parse_config({"site": {"name": "t", "grid_zone": "DEU"}, **base})
    with pytest.raises(ConfigError, match="no grid factor table covers zone 'AQ'"):
        parse_config({"site": {"name": "t", "grid_zone": "AQ"}, **base})
    # with its own factor, a zone the tables do not cover is fine
    parse_config({"site": {"name": "t", "grid_zone": "AQ"},
                  "factors": {"grid_kg_per_kwh": 0.2}, **base})


def test_a_plants_own_table_directory_answers_first(tmp_path):
    (tmp_path / "utility.csv").write_text(
        "zone,kg_per_kwh,year,dataset,source,licence,basis,type,gases,flags\n"
        "DE,0.321,2026,Stadtwerke disclosure 2026,letter of 2026-02-01,CC0,location,direct,CO2e,\n",
        encoding="utf-8")
    plant = build_plant(parse_config({
        "site": {"name": "t", "grid_zone": "DE"},
        "factors": {"tables_dir": str(tmp_path)},
        "lines": [{"id": "l1"}], "machines": [{"id": "m", "line": "l1"}],
        "meters": [{"id": "p", "role": "power", "machine": "m", "unit": "kW"}],
    }))
    asked = int(datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()) * NS_PER_S
    series = carbonline_emission_factors(plant, "DE", asked, asked + NS_PER_S, "location")
    assert float(series.kg_per_kwh[0]) == 0.321
    assert (series.provenance.dataset, series.provenance.year) == ("Stadtwerke disclosure 2026",
                                                                   2026)
    assert not series.provenance.estimated  # same year as asked


def _utc(hour: int, minute: int = 0) -> int:
    return int(datetime(2026, 6, 1, hour, minute, tzinfo=timezone.utc).timestamp()) * NS_PER_S


@pytest.mark.parametrize("suffix, text", [
    (".csv", "time,kg_per_kwh\n2026-06-01T00:00:00Z,0.30\n2026-06-01T01:00:00Z,0.35\n"
             "2026-06-01T05:00:00Z,0.40\n"),
    (".lp", f"grid kg_per_kwh=0.30 {_utc(0)}\ngrid kg_per_kwh=0.35 {_utc(1)}\n"
            f"grid kg_per_kwh=0.40 {_utc(5)}\n"),
])
def test_a_series_with_a_gap_falls_back_down_the_chain(tmp_path, suffix, text):
    path = tmp_path / f"grid{suffix}"
    path.write_text(text)
    plant = build_plant(parse_config({
        "site": {"name": "t", "grid_zone": "DE"},
        "factors": {"series": str(path), "series_max_gap": "1h", "grid_kg_per_kwh": 0.5},
        "lines": [{"id": "l1"}], "machines": [{"id": "m", "line": "l1"}],
        "meters": [{"id": "p", "role": "power", "machine": "m", "unit": "kW"}],
    }))
    series = carbonline_emission_factors(plant, "DE", _utc(0), _utc(8), "location")
    # each value holds until the next, at most an hour: 01:00's value ends at 02:00, then the
    # configured constant fills 02:00–05:00; 05:00's value holds to 06:00, the constant after
    asked = [_utc(0, 30), _utc(1, 30), _utc(2, 30), _utc(4, 59), _utc(5, 30), _utc(6, 30)]
    assert series.at(np.array(asked)).tolist() == [0.30, 0.35, 0.5, 0.5, 0.40, 0.5]
    source = series.provenance
    assert source.provider == "series" and source.estimated
    assert "gaps over 3600 s filled from constant" in source.dataset


def test_a_series_without_gaps_is_not_estimated(tmp_path):
    path = tmp_path / "grid.csv"
    path.write_text("time,kg_per_kwh\n2026-06-01T00:00:00Z,0.30\n2026-06-01T01:00:00Z,0.35\n")
    plant = build_plant(parse_config({
        "site": {"name": "t", "grid_zone": "DE"},
        "factors": {"series": str(path), "series_max_gap": "2h"},
        "lines": [{"id": "l1"}], "machines": [{"id": "m", "line": "l1"}],
        "meters": [{"id": "p", "role": "power", "machine": "m", "unit": "kW"}],
    }))
    series = carbonline_emission_factors(plant, "DE", _utc(0), _utc(2), "location")
    assert series.at(np.array([_utc(0, 30), _utc(1, 59)])).tolist() == [0.30, 0.35]
    assert not series.provenance.estimated and series.provenance.dataset == f"grid series {path}"
