"""The simulator as a PLC: an asyncua server whose variables are the plant's meters and
counters (node ids from :mod:`.topics`), each written with its reading's source timestamp.

OPC UA keeps no history: a client sees the changes made while it is subscribed. So the
server comes up with the first reading of every meter (stamped with its plant time), waits until ``go`` is set (the CLI sets
it after ``--opcua-wait`` seconds, a test once its client has subscribed), then plays the rest
at ``speed``. asyncua serves a few thousand changes per second: this output is for small plants.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone

import numpy as np
from asyncua import Server, ua

from ..records import NS_PER_S
from .model import Layout, Signals
from .topics import NAMESPACE, node_id


def serve(plant: Layout, signals: Signals, port: int, speed: float,
          ready: threading.Event, go: threading.Event) -> int:
    """Run the server until every reading is written; returns the changes written."""
    return asyncio.run(_serve(plant, signals, port, speed, ready, go))


async def _serve(plant: Layout, signals: Signals, port: int, speed: float,
                 ready: threading.Event, go: threading.Event) -> int:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
    server.set_server_name(f"carbonline simulator {plant.site}")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    namespace = await server.register_namespace(NAMESPACE)
    assert namespace == 2, "node ids in the written plant.toml assume ns=2"
    folder = await server.nodes.objects.add_folder(ua.NodeId(plant.site, namespace), plant.site)
    numeric = {}
    for meter, values in signals.values.items():
        nodeid = ua.NodeId.from_string(node_id(plant, meter))
        numeric[meter] = (await folder.add_variable(nodeid, meter, float(values[0]))).nodeid
    text = {}
    for _, line, what, _ in signals.context:
        name = f"{line}-{what}"
        if name not in text:
            nodeid = ua.NodeId.from_string(node_id(plant, name))
            text[name] = (await folder.add_variable(nodeid, name, "")).nodeid
    context: dict[int, list[tuple[ua.NodeId, str]]] = {}
    for t, line, what, value in signals.context:
        context.setdefault(t, []).append((text[f"{line}-{what}"], value))
    first = int(signals.times[0])
    start = datetime.fromtimestamp(first / NS_PER_S, timezone.utc)
    written = 0
    async with server:
        # the first readings, stamped with their own time: what a client subscribing now sees
        for nodeid, value in context.pop(first, []):
            await server.write_attribute_value(nodeid, _value(value, start))
            written += 1
        for meter, nodeid in numeric.items():
            await server.write_attribute_value(
                nodeid, _value(float(signals.values[meter][0]), start))
            written += 1
        ready.set()
        while not go.is_set():
            await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        wall0 = loop.time()
        for i, t in enumerate(signals.times.tolist()[1:], start=1):
            if speed > 0:
                delay = wall0 + (t - first) / NS_PER_S / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            moment = datetime.fromtimestamp(t / NS_PER_S, timezone.utc)
            for nodeid, value in context.get(t, []):
                await server.write_attribute_value(nodeid, _value(value, moment))
                written += 1
            for meter, nodeid in numeric.items():
                value = signals.values[meter][i]
                if not np.isnan(value):
                    await server.write_attribute_value(nodeid, _value(float(value), moment))
                    written += 1
        await asyncio.sleep(1.0)  # the last publishing interval reaches the clients
    return written


def _value(value: float | str, moment: datetime) -> ua.DataValue:
    return ua.DataValue(ua.Variant(value), SourceTimestamp=moment, ServerTimestamp=moment)
