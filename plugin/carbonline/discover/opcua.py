"""Discovery on an OPC UA server: browse the address space below Objects and list every
variable holding a number or a short text, with its node id, engineering unit and a few values
read some time apart (a counter shows itself by growing).

The server's own diagnostics object (``Server``, ns=0) is left out: it describes the server,
not the plant.
"""

from __future__ import annotations

import asyncio

from asyncua import Node, ua

from ..config import OpcuaServer
from ..sources.opcua import connect
from .found import Found

#: Text longer than this is a message, not a SKU or order number.
MAX_TEXT = 64
#: How deep below Objects the browse goes (a PLC's tags are rarely deeper).
MAX_DEPTH = 8


def browse_opcua(url: str, settings: OpcuaServer | None = None, samples: int = 3,
                 interval_s: float = 1.0) -> list[Found]:
    """Every usable variable on the server at ``url``, in browse order."""
    return asyncio.run(_browse(settings or OpcuaServer(url=url), samples, interval_s))


async def _browse(settings: OpcuaServer, samples: int, interval_s: float) -> list[Found]:
    client = await connect(settings)
    try:
        variables: list[tuple[Node, list[str]]] = []
        await _walk(client.nodes.objects, [], variables, 0)
        found = []
        for node, path in variables:
            value = await node.read_value()
            if not _usable(value):
                continue
            found.append(Found("_".join(path), {"opcua": {"node": node.nodeid.to_string()}},
                               [value], unit=await _unit(node), where="/".join(path)))
        for _ in range(samples - 1):
            await asyncio.sleep(interval_s)
            for signal in found:
                value = await client.get_node(signal.mapping["opcua"]["node"]).read_value()
                if _usable(value):
                    signal.samples.append(value)
        return found
    finally:
        await client.disconnect()


async def _walk(node: Node, path: list[str], out: list[tuple[Node, list[str]]],
                depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
        if child.nodeid == ua.NodeId(ua.ObjectIds.Server):
            continue
        name = (await child.read_browse_name()).Name
        kind = await child.read_node_class()
        if kind == ua.NodeClass.Variable:
            if name != "EngineeringUnits":
                out.append((child, [*path, name]))
        elif kind == ua.NodeClass.Object:
            await _walk(child, [*path, name], out, depth + 1)


def _usable(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT


async def _unit(node: Node) -> str | None:
    """The text of the variable's EngineeringUnits property, if it has one."""
    for child in await node.get_children(refs=ua.ObjectIds.HasProperty):
        if (await child.read_browse_name()).Name == "EngineeringUnits":
            unit = await child.read_value()
            text = getattr(getattr(unit, "DisplayName", None), "Text", None)
            return text or None
    return None
