"""A simulated plant's 30 hours replayed into the real InfluxDB, with ``[export.*]`` target ids.

The simulator's three lines (line3 has a gas-fired oven: Scope 1) run from 2026-03-02 06:00
UTC for 30 hours, so two site-local days have ``day`` windows. The plant.toml the simulator
writes gets a residual-mix factor and one 1 MWh certificate valid 08:00–20:00 UTC on the first
day (so 1,000 kWh of electricity is renewable-covered: the site uses more than 1/720 MWh in
every minute), ``[sinks.influx]``, and ``[export.salesforce]``/``[export.webhook]`` pointing
at local stand-ins (``stubs``), with the Salesforce token as ``${ENV}``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonline.cli import main
from carbonline.config import PlantConfig, load_config
from carbonline.plant import build_plant
from carbonline.records import to_ns
from carbonline.replay import replay
from servers.influxdb import InfluxDB

from export.stubs import TOKEN, SalesforceStub, WebhookReceiver

START = to_ns(datetime(2026, 3, 2, tzinfo=timezone.utc))
END = to_ns(datetime(2026, 3, 4, tzinfo=timezone.utc))
TOKEN_ENV = "E3_TEST_SALESFORCE_TOKEN"
ASSET_A = "0ZsRM0000000001AAA"  # line1 + line2
ASSET_B = "0ZsRM0000000002AAA"  # line3
ELECTRICITY_SET = "0pfRM0000000001AAA"
GAS_SET = "0qfRM0000000001AAA"
CERTIFICATE_KWH = 1000.0
RESIDUAL_KG_PER_KWH = 0.45


@dataclass
class Exported:
    """The replayed plant: its plant.toml, the InfluxDB database and the stand-ins."""

    config_path: Path
    config: PlantConfig
    influx: InfluxDB
    database: str
    salesforce: SalesforceStub
    webhook: WebhookReceiver

    def influx_sums(self) -> dict[str, float]:
        """Σ of the carbon_intensity fields over the 1-minute windows of the whole period,
        asked of InfluxDB directly: what every export must add up to."""
        names = ("electricity_kwh", "fuel_kwh", "scope1_co2e_kg", "scope2_location_co2e_kg",
                 "scope2_market_co2e_kg")
        q = (f"SELECT {', '.join(f'sum({n}) AS {n}' for n in names)} FROM carbon_intensity "
             f"WHERE \"window\" = '1m' AND time >= {START} AND time < {END}")
        series = self.influx.query(q, self.database)["results"][0]["series"][0]
        return dict(zip(series["columns"][1:], series["values"][0][1:]))


@pytest.fixture(scope="session")
def exported(influxdb: InfluxDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    root = tmp_path_factory.mktemp("export")
    lp, toml = root / "plant.lp", root / "plant.toml"
    result = CliRunner().invoke(main, [
        "simulate", "--scenario", "normal-week", "--duration", "30h", "--lines", "3",
        "--machines", "4", "--output", str(lp), "--write-config", str(toml)])
    assert result.exit_code == 0, result.output
    database = f"export_{uuid.uuid4().hex[:12]}"
    influxdb.create_database(database)
    salesforce, webhook = SalesforceStub(), WebhookReceiver()
    text = toml.read_text().replace("[factors]\n", (
        "[factors]\n"
        f"market_kg_per_kwh = {RESIDUAL_KG_PER_KWH}\n"
        f"instruments = [{{ name = \"GO-2026-03\", valid_from = 2026-03-02T08:00:00Z, "
        f"valid_to = 2026-03-02T20:00:00Z, mwh = {CERTIFICATE_KWH / 1000} }}]\n"), 1)
    text += f"""
[sinks.influx]
url = "{influxdb.url}"
database = "{database}"

[export.salesforce]
instance_url = "{salesforce.url}"
access_token = "${{{TOKEN_ENV}}}"
asset = "{ASSET_A}"
assets = {{ line3 = "{ASSET_B}" }}
electricity_factor_set = "{ELECTRICITY_SET}"
fuel_factor_sets = {{ natural_gas = "{GAS_SET}" }}

[export.webhook]
url = "{webhook.url}/hooks/carbon"
headers = {{ Authorization = "Bearer hook-secret" }}
"""
    toml.write_text(text)
    os.environ[TOKEN_ENV] = TOKEN
    try:
        config = load_config(toml)
        replay(build_plant(config), [str(lp)], [config.sinks.influx.url])
        yield Exported(toml, config, influxdb, database, salesforce, webhook)
    finally:
        os.environ.pop(TOKEN_ENV, None)
        salesforce.close()
        webhook.close()
        influxdb.query(f'DROP DATABASE "{database}"')
