"""The OPC UA source against a real asyncua server: source timestamps, context, bad values,
missing nodes, reconnects and security."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

from carbonline.config import OpcuaServer, parse_config
from carbonline.engine.accumulator import Engine
from carbonline.plant import PlantModel, build_plant
from carbonline.records import NS_PER_S, IntensityRow, Reason
from carbonline.sources.opcua import OpcuaSource, carbonline_sources
from running import Running
from servers.opcua import start_opcua

T0 = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS_PER_S


def plant_on(nodes: dict[str, str], url: str = "opc.tcp://plc:4840/") -> PlantModel:
    return build_plant(parse_config({
        "site": {"name": "s", "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5},
        "lines": [{"id": "l1"}],
        "machines": [{"id": "filler", "line": "l1"}],
        "meters": [
            {"id": "e1", "role": "energy_counter", "machine": "filler", "unit": "kWh",
             "opcua": {"node": nodes["energy"]}},
            {"id": "u1", "role": "units_counter", "line": "l1",
             "opcua": {"node": nodes["units"]}},
            {"id": "sku", "role": "sku", "line": "l1", "opcua": {"node": nodes["sku"]}},
        ],
        "sources": {"opcua": {"url": url, "publishing_interval": "50ms"}},
    }))


def variables(server, tag: str) -> dict[str, str]:
    return {"energy": server.add(f"{tag}.Filler.Energy", 0.0, "kWh"),
            "units": server.add(f"{tag}.Line1.Good", 0.0),
            "sku": server.add(f"{tag}.Line1.Recipe", "")}


def test_values_with_source_timestamps_go_through_the_engine(opcua_server):
    """Counter values stamped by the 'PLC' a minute apart → 1m rows whose kg CO₂e is the
    test's own arithmetic (Δ kWh × 0.5), in the minutes of the source timestamps."""
    nodes = variables(opcua_server, f"t{uuid.uuid4().hex[:6]}")
    plant = plant_on(nodes, opcua_server.url)
    kwh, good = [200.0, 201.5, 204.0, 204.5], [0.0, 30.0, 55.0, 60.0]
    opcua_server.write(nodes["energy"], kwh[0], T0)
    opcua_server.write(nodes["units"], good[0], T0)
    opcua_server.write(nodes["sku"], "cola-0.5l", T0)
    (source,) = carbonline_sources(plant, [opcua_server.url, "mqtt://b:1883"])
    running = Running(source)
    try:
        for i in range(1, 4):
            at = T0 + timedelta(minutes=i)
            opcua_server.write(nodes["energy"], kwh[i], at)
            opcua_server.write(nodes["units"], good[i], at)
        running.wait(lambda: len(running.readings()) == 8, "8 readings")
    finally:
        running.stop()
    times = sorted(set(running.readings()["time"].tolist()))
    assert times == [ns(T0 + timedelta(minutes=i)) for i in range(4)]  # not arrival times
    (event,) = [e for b in running.batches for e in b.context]
    assert (event.text, event.time) == ("cola-0.5l", ns(T0))
    engine = Engine(plant)
    rows = [r for b in running.batches for r in engine.ingest(b)] + engine.flush()
    minutes = sorted((r for r in rows if isinstance(r, IntensityRow) and r.window.kind == "1m"),
                     key=lambda r: r.window.start)
    assert [r.window.start for r in minutes] == [ns(T0 + timedelta(minutes=i)) for i in range(3)]
    for i, row in enumerate(minutes):
        assert row.co2e_kg == pytest.approx((kwh[i + 1] - kwh[i]) * 0.5)
        assert row.good_units == good[i + 1] - good[i]
        assert row.sku == "cola-0.5l"


def test_bad_values_and_missing_nodes_are_counted_and_the_rest_goes_on(opcua_server):
    tag = f"t{uuid.uuid4().hex[:6]}"
    nodes = {"energy": opcua_server.add(f"{tag}.Filler.Energy", 0.0, "kWh"),
             "units": opcua_server.add(f"{tag}.Line1.GoodText", "none yet"),  # a text tag
             "sku": f"ns={opcua_server.namespace};s=NoSuch.Node"}
    plant = plant_on(nodes, opcua_server.url)
    opcua_server.write(nodes["energy"], 1.0, T0)
    running = Running(OpcuaSource(plant, OpcuaServer(url=opcua_server.url,
                                                     publishing_interval=0.05)))
    try:
        at = T0 + timedelta(minutes=1)
        opcua_server.write(nodes["energy"], float("nan"), at)
        opcua_server.write(nodes["energy"], 3.0, at + timedelta(seconds=2))
        running.wait(lambda: 3.0 in running.readings()["value"], "the good value after")
    finally:
        running.stop()
    assert running.readings()["value"].tolist() == [1.0, 3.0]
    rejected = sorted(running.rejections(), key=lambda r: r.detail)
    assert [r.reason for r in rejected] == [Reason.NOT_A_NUMBER] * 2
    assert "meter e1" in rejected[0].detail and "nan" in rejected[0].raw
    assert "meter u1" in rejected[1].detail and "none yet" in rejected[1].raw
    assert running.source.counters["missing_nodes"] == 1


def test_a_restarted_server_is_reconnected_and_resubscribed():
    server = start_opcua()
    try:
        nodes = variables(server, "plc")
        plant = plant_on(nodes, server.url)
        server.write(nodes["energy"], 1.0, T0)
        running = Running(OpcuaSource(plant, plant.config.sources.opcua))
        running.wait(lambda: len(running.readings()) >= 1, "the first value")
        server.stop()
        server.start()  # same port, the address space built again
        running.wait(lambda: running.source.counters["reconnects"] >= 1, "a reconnect", 60)
        server.write(nodes["energy"], 2.0, T0 + timedelta(minutes=1))
        running.wait(lambda: 2.0 in running.readings()["value"], "a value after the restart")
        running.stop()
    finally:
        server.close()


def test_basic256sha256_with_certificates(tmp_path):
    """A PLC that accepts only signed and encrypted sessions: without security the source
    keeps retrying (counted); with its certificate and key it reads."""
    asyncio.run(_certificates(tmp_path))
    server = start_opcua({"certificate": tmp_path / "server.der",
                          "private_key": tmp_path / "server.pem"})
    try:
        nodes = variables(server, "secure")
        server.write(nodes["energy"], 5.0, T0)
        plain = OpcuaSource(plant_on(nodes, server.url), OpcuaServer(url=server.url))
        trying = Running(plain, wait_subscribed=False)
        trying.wait(lambda: plain.counters["connect_failures"], "a refused plain session")
        trying.stop()
        secure = OpcuaServer(url=server.url, security_policy="Basic256Sha256",
                             certificate=str(tmp_path / "client.der"),
                             private_key=str(tmp_path / "client.pem"))
        running = Running(OpcuaSource(plant_on(nodes, server.url), secure))
        running.wait(lambda: 5.0 in running.readings()["value"], "a value over a secure session")
        running.stop()
    finally:
        server.close()


async def _certificates(folder) -> None:
    """Self-signed application certificates (DER) and keys (PEM) for server and client."""
    for name, uri, use in (
            ("server", "urn:freeopcua:python:server", ExtendedKeyUsageOID.SERVER_AUTH),
            ("client", "urn:example.org:FreeOpcUa:opcua-asyncio",
             ExtendedKeyUsageOID.CLIENT_AUTH)):
        await setup_self_signed_certificate(folder / f"{name}.pem", folder / f"{name}.der", uri,
                                            "127.0.0.1", [use], {"commonName": name})
