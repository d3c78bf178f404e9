"""A real OPC UA server (asyncua) on a free loopback port, as a PLC or gateway would serve one.

It runs in a thread with its own event loop; tests add variables and write values with explicit
source timestamps through thread-safe calls. Starting takes ~2 s (stack notes), so the session
shares one (tests use their own node ids); :func:`start_opcua` starts a private one for tests
that stop and restart it or need security.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from asyncua import Server, ua

from ._common import free_ports

NAMESPACE = "urn:carbonline:test-plc"


class OpcuaServer:
    """An asyncua server: ``url``, ``add(node_id, value, unit)``, ``write(node_id, value, at)``,
    ``stop()`` and ``start()`` again on the same port (the address space is rebuilt)."""

    def __init__(self, port: int, security: dict[str, Path] | None = None) -> None:
        self.port = port
        self.security = security
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: Server | None = None
        self.namespace = 0
        self.variables: dict[str, tuple[Any, str | None]] = {}  # node id → initial, unit

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/"

    def _call(self, coroutine: Coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def start(self) -> None:
        self._call(self._start())
        for node_id, (value, unit) in self.variables.items():
            self._call(self._add(node_id, value, unit))

    async def _start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("carbonline test PLC")
        if self.security:
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            await server.load_certificate(str(self.security["certificate"]))
            await server.load_private_key(str(self.security["private_key"]))
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.namespace = await server.register_namespace(NAMESPACE)
        await server.start()
        self.server = server

    def add(self, name: str, value: Any, unit: str | None = None) -> str:
        """A variable ``ns=<test namespace>;s=<name>`` under Objects; returns its node id."""
        node_id = f"ns={self.namespace};s={name}"
        self.variables[node_id] = (value, unit)
        self._call(self._add(node_id, value, unit))
        return node_id

    async def _add(self, node_id: str, value: Any, unit: str | None) -> None:
        assert self.server is not None
        nodeid = ua.NodeId.from_string(node_id)
        folder = self.server.nodes.objects
        variable = await folder.add_variable(nodeid, nodeid.Identifier.split(".")[-1], value)
        await variable.set_writable()
        if unit is not None:
            await variable.add_property(
                ua.NodeId(f"{nodeid.Identifier}.EngineeringUnits", nodeid.NamespaceIndex),
                "EngineeringUnits",
                ua.EUInformation(DisplayName=ua.LocalizedText(unit), Description=ua.LocalizedText(unit)))

    def write(self, node_id: str, value: Any, at: datetime,
              variant: ua.VariantType | None = None) -> None:
        """Set a value with ``at`` as its source timestamp (as a PLC stamps its own reads)."""
        data = ua.DataValue(ua.Variant(value, variant) if variant else ua.Variant(value),
                            SourceTimestamp=at, ServerTimestamp=at)
        self._call(self._write(node_id, data))

    async def _write(self, node_id: str, data: ua.DataValue) -> None:
        assert self.server is not None
        await self.server.write_attribute_value(ua.NodeId.from_string(node_id), data)

    def stop(self) -> None:
        if self.server is not None:
            self._call(self.server.stop())
            self.server = None

    def close(self) -> None:
        self.stop()
        self._call(_cancel_pending())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def _cancel_pending() -> None:
    """Cancel what the stopped server left running (session timers), so the loop ends
    quietly instead of warning about destroyed tasks."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def start_opcua(security: dict[str, Path] | None = None) -> OpcuaServer:
    server = OpcuaServer(free_ports(1)[0], security)
    server.start()
    return server


@pytest.fixture(scope="session")
def opcua_server() -> Iterator[OpcuaServer]:
    """The session's OPC UA server."""
    server = start_opcua()
    try:
        yield server
    finally:
        server.close()
