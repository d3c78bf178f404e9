"""Discovery on a real OPC UA server, and the draft it makes."""

from __future__ import annotations

import threading
import time
import tomllib
from datetime import datetime, timezone

from carbonline.config import parse_config
from carbonline.discover.draft import draft_config
from carbonline.discover.opcua import browse_opcua
from servers.opcua import start_opcua


def test_browse_finds_variables_units_and_growing_counters():
    server = start_opcua()  # its own server: the session one holds other tests' variables
    try:
        energy = server.add("Line1.Filler.Energy", 100.0, "kWh")
        count = server.add("Line1.Filler.GoodCount", 10)
        recipe = server.add("Line1.Recipe", "cola-0.5l")
        server.add("Line1.Running", True)  # a flag, not a meter: left out

        def count_up() -> None:
            for n in range(1, 6):
                time.sleep(0.1)
                server.write(count, 10 + 5 * n, datetime.now(timezone.utc))

        writer = threading.Thread(target=count_up)
        writer.start()
        found = browse_opcua(server.url, samples=3, interval_s=0.2)
        writer.join()
    finally:
        server.close()
    by_node = {f.mapping["opcua"]["node"]: f for f in found}
    assert set(by_node) == {energy, count, recipe}
    assert by_node[energy].unit == "kWh" and by_node[energy].samples == [100.0] * 3
    samples = by_node[count].samples
    assert samples == sorted(samples) and samples[-1] > samples[0]
    assert by_node[recipe].samples[0] == "cola-0.5l"
    text = draft_config(found, "s", "UTC", "DE", {"opcua": {"url": "opc.tcp://plc:4840/"}})
    roles = {m.opcua.node: m.role for m in parse_config(tomllib.loads(text)).meters}
    assert roles == {energy: "energy_counter", count: "units_counter", recipe: "sku"}


def test_discover_command_on_opcua_writes_a_checked_draft(tmp_path):
    from click.testing import CliRunner

    from carbonline.cli import main

    server = start_opcua()
    try:
        server.add("Hall.Press.PowerKw", 12.5, "kW")
        server.add("Hall.Press.Count", 3)
        draft = tmp_path / "plant.toml"
        result = CliRunner().invoke(main, ["discover", "--opcua", server.url, "--write",
                                           str(draft)])
    finally:
        server.close()
    assert result.exit_code == 0, result.output
    assert "2 signals found" in result.output
    checked = CliRunner().invoke(main, ["check-config", str(draft)])
    assert checked.exit_code == 0, checked.output
    config = parse_config(tomllib.loads(draft.read_text()))
    assert config.sources.opcua.url == server.url
    assert {m.role for m in config.meters} == {"power", "units_counter"}
