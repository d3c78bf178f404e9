"""Scope 2 market-based: certificates cover their volume pro rata inside their validity, the
supplier or residual-mix factor takes the rest; location-based stays beside it."""

from __future__ import annotations

import pytest

from carbonline.config import ConfigError, parse_config

from .conftest import batch, pick, plant_of, run

POWER = [{"id": "p", "role": "power", "machine": "m_l1", "unit": "kW"}]
FIFTEEN_MINUTES = [("p", m * 60, 60.0) for m in range(16)]  # 60 kW: 1 kWh a minute


def certificate(valid_to: str, mwh: float = 0.576) -> dict:
    return {"name": "GO wind 2026", "valid_from": "2026-03-02T00:00:00Z",
            "valid_to": valid_to, "mwh": mwh, "kg_per_kwh": 0.0}


def window_with(instrument: dict):
    """The 15-minute row of a 60 kW line on a 0.4 grid and a 0.5 residual mix."""
    plant = plant_of(POWER, factors={
        "grid_kg_per_kwh": 0.4, "market_kg_per_kwh": 0.5, "instruments": [instrument]})
    rows, _ = run(plant, batch(plant, FIFTEEN_MINUTES))
    (window,) = pick(rows, "15m")
    return window


def test_certificates_cover_40_percent_and_the_residual_mix_the_rest():
    # 0.576 MWh over one day is 0.4 kWh a minute: 40 % of the 1 kWh the line uses each minute.
    # Market-based: 0.4 kWh × 0 + 0.6 kWh × 0.5 (residual mix) = 0.3 kg a minute → 4.5 kg;
    # location-based: 15 kWh × 0.4 = 6 kg, and co2e_kg (the operational figure) stays 6 kg.
    window = window_with(certificate("2026-03-03T00:00:00Z"))
    assert window.scope2_market_co2e_kg == pytest.approx(4.5)
    assert window.scope2_location_co2e_kg == pytest.approx(6.0)
    assert window.co2e_kg == pytest.approx(6.0)


def test_a_certificate_counts_only_inside_its_validity():
    # valid until 00:10: minutes 0–9 at 0.3 kg, minutes 10–14 all residual at 0.5 kg
    # (the same 0.4 kWh a minute: 0.576 MWh × 10 min / 1440 min = 4 kWh over ten minutes)
    window = window_with(certificate("2026-03-02T00:10:00Z", mwh=0.004))
    assert window.scope2_market_co2e_kg == pytest.approx(10 * 0.3 + 5 * 0.5)


def test_volume_a_bin_cannot_use_is_not_banked():
    # 10 kWh a minute of certificates for a 1 kWh-a-minute line: everything covered at 0,
    # and the unused 9 kWh a minute do not carry over to later minutes
    window = window_with(certificate("2026-03-02T00:10:00Z", mwh=0.1))
    assert window.scope2_market_co2e_kg == pytest.approx(5 * 0.5)  # minutes 10–14 uncovered


def test_instrument_periods_are_checked():
    doc = {"site": {"name": "t", "grid_zone": "DE"}, "lines": [{"id": "l1"}],
           "machines": [{"id": "m", "line": "l1"}], "meters": POWER[:0]}
    with pytest.raises(ConfigError, match="valid_to must be after valid_from"):
        parse_config({**doc, "factors": {"instruments": [
            {"name": "x", "valid_from": "2026-02-01T00:00:00Z",
             "valid_to": "2026-01-01T00:00:00Z", "mwh": 1}]}})
    with pytest.raises(ConfigError, match="with a UTC offset"):
        parse_config({**doc, "factors": {"instruments": [
            {"name": "x", "valid_from": "2026-01-01T00:00:00", "valid_to": "2026-02-01T00:00:00",
             "mwh": 1}]}})
