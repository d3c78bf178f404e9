"""``[export.*]`` in plant.toml: the built-ins' tables are checked at load with messages naming
the key, secrets come from ``${ENV}``, and a third party's table reaches its exporter as is."""

from __future__ import annotations

import pytest

from carbonline.config import ConfigError, SalesforceExport, parse_config

PLANT = {
    "site": {"name": "p", "grid_zone": "DE"}, "factors": {"grid_kg_per_kwh": 0.4},
    "lines": [{"id": "l1"}], "machines": [{"id": "m1", "line": "l1"}],
    "meters": [{"id": "e1", "role": "energy_counter", "machine": "m1", "unit": "kWh"}],
}
URL = "https://acme.my.salesforce.com"


def test_salesforce_settings_load_with_the_token_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TOKEN", "00D!secret")
    config = parse_config({**PLANT, "export": {"salesforce": {
        "instance_url": URL, "access_token": "${SF_TOKEN}", "asset": "0ZsRM0000000001AAA",
        "fuel_factor_sets": {"natural_gas": "0qfRM0000000001"}}}})
    settings = config.export.settings("salesforce")
    assert isinstance(settings, SalesforceExport)
    assert settings.access_token == "00D!secret"
    assert config.export.settings("webhook") is None


@pytest.mark.parametrize(("table", "message"), [
    ({"instance_url": URL, "asset": "line1"}, "export.salesforce.asset: String should match"),
    ({"instance_url": "acme.my.salesforce.com"}, "export.salesforce.instance_url"),
    ({"instance_url": URL, "asets": {}}, "export.salesforce.asets: unknown key"),
    ({"instance_url": URL, "gap_filling_method": "LINEAR"},
     "export.salesforce.gap_filling_method"),
])
def test_a_bad_salesforce_table_names_its_key(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config({**PLANT, "export": {"salesforce": table}})


def test_an_unset_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="export.webhook.headers.Authorization: environment "
                                          "variable E3_UNSET_TOKEN is not set"):
        parse_config({**PLANT, "export": {"webhook": {
            "url": "https://hooks.example/carbon",
            "headers": {"Authorization": "Bearer ${E3_UNSET_TOKEN}"}}}})


def test_a_third_party_table_is_passed_through() -> None:
    config = parse_config({**PLANT, "export": {"csv-lake": {"bucket": "s3://lake", "n": 3}}})
    assert config.export.settings("csv-lake") == {"bucket": "s3://lake", "n": 3}
    assert config.export.settings("absent") is None
