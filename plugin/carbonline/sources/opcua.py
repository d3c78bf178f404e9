"""The built-in OPC UA source: meters read from a PLC or gateway (asyncua).

It claims inputs ``opc.tcp://…``; the settings of the ``[sources.opcua]`` section with that URL
apply (security, user), defaults otherwise. Every meter with ``opcua = { node = "ns=2;s=…" }``
is subscribed for data changes at ``publishing_interval``.

**Time** is the value's *source* timestamp — when the PLC read the meter — falling back to the
server timestamp, then to the arrival time; a value that sat in a gateway's queue is therefore
counted in the minute it was measured, not the one it arrived in.

**Values.** Numbers become readings in the meter's unit; ``sku``/``order`` meters take the value
as text (a change is a context event). A bad status code, a value that is not a number, NaN or
infinity is refused with its reason and the meter and node named, never an exception. A
configured node the server does not have is logged, counted as ``missing_nodes`` and left out;
the others are subscribed.

**Connection.** asyncua runs in a thread of its own with its own event loop. A lost connection
(the PLC restarts, the network drops) is noticed by a periodic check, then retried with
exponential backoff from 0.5 s to 30 s, and the nodes are subscribed again (``reconnects``).
With ``security_policy = "Basic256Sha256"`` the client signs (and encrypts) with its
certificate and private key; ``username``/``password`` log in as that user.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..config import CONTEXT_ROLES, OpcuaServer, settings_for
from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import NS_PER_S, ReadingBatch, Reason, Rejection
from .inbox import LiveSource

if TYPE_CHECKING:
    from asyncua import Client

log = logging.getLogger(__name__)

#: Reconnect backoff, seconds: first wait, then doubled up to the cap.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
#: Changes the server keeps per node between two publishes: with the default of one, a counter
#: read twice within ``publishing_interval`` would lose the first reading.
QUEUE_SIZE = 1000
#: How often the connection is checked, seconds.
CHECK_EVERY_S = 1.0


@hookimpl
def carbonline_sources(plant: PlantModel, inputs: Sequence[str]) -> list:
    """Claim ``opc.tcp://`` inputs."""
    configured = plant.config.sources.opcua
    return [
        OpcuaSource(plant, settings_for(url, configured, OpcuaServer))
        for url in inputs if url.startswith("opc.tcp://")
    ]


async def connect(settings: OpcuaServer) -> Client:
    """A connected asyncua client with the configured security and user. asyncua is imported
    here, not with the module: it costs ~0.3 s and ~33 MB, which a replay should not pay."""
    from asyncua import Client, ua
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

    client = Client(settings.url)
    if settings.security_policy == "Basic256Sha256":
        mode = getattr(ua.MessageSecurityMode, settings.security_mode)
        await client.set_security(SecurityPolicyBasic256Sha256, settings.certificate,
                                  settings.private_key, settings.server_certificate, mode=mode)
    if settings.username:
        client.set_user(settings.username)
        client.set_password(settings.password or "")
    await client.connect()
    return client


class OpcuaSource(LiveSource):
    """Readings from one OPC UA server; see the module docstring."""

    def __init__(self, plant: PlantModel, settings: OpcuaServer) -> None:
        super().__init__(plant, settings)
        self.nodes = {m.opcua.node: i for i, m in enumerate(plant.meters) if m.opcua is not None}
        self.context = [m.role in CONTEXT_ROLES for m in plant.meters]
        self.subscribed = threading.Event()  # set once the nodes are subscribed
        self._closed = self.inbox.closed

    def read(self) -> Iterator[ReadingBatch]:
        """Subscribe in a background thread; yield what arrived at least every second until
        :meth:`close`."""
        worker = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True,
                                  name=f"opcua {self.name}")
        worker.start()
        yield from self.inbox.batches()
        worker.join(10)

    # --- the asyncua thread ------------------------------------------------------------------

    async def _main(self) -> None:
        backoff = BACKOFF_FIRST_S
        connected_before = False
        while not self._closed.is_set():
            try:
                client = await connect(self.settings)
            except Exception as exc:  # noqa: BLE001 - refused, unreachable, bad certificate
                self.counters["connect_failures"] += 1
                log.warning("OPC UA %s: cannot connect (%s); retrying in %.1f s", self.name,
                            exc, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            if connected_before:
                self.counters["reconnects"] += 1
            connected_before = True
            backoff = BACKOFF_FIRST_S
            try:
                await self._subscribe(client)
                while not self._closed.is_set():
                    await self._sleep(CHECK_EVERY_S)
                    await client.check_connection()
            except Exception as exc:  # noqa: BLE001 - the connection is gone
                if not self._closed.is_set():
                    log.warning("OPC UA %s: connection lost (%s); reconnecting", self.name, exc)
                    self.counters["disconnects"] += 1
            finally:
                try:
                    await asyncio.wait_for(client.disconnect(), 5)
                except Exception:  # noqa: BLE001 - already gone
                    pass

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._closed.is_set() and time.monotonic() < end:
            await asyncio.sleep(min(0.1, end - time.monotonic()))

    async def _subscribe(self, client: Client) -> None:
        """Subscribe every configured node the server has; count and log the others."""
        from asyncua import ua

        present = []
        for node_id in self.nodes:
            node = client.get_node(node_id)
            try:
                await node.read_browse_name()
            except ua.UaStatusCodeError as exc:
                self.counters["missing_nodes"] += 1
                log.error("OPC UA %s: node %s (meter %s) is not on the server: %s", self.name,
                          node_id, self.plant.meters[self.nodes[node_id]].id, exc)
                continue
            present.append(node)
        period_ms = self.settings.publishing_interval * 1000
        subscription = await client.create_subscription(period_ms, self)
        if present:
            await subscription.subscribe_data_change(present, queuesize=QUEUE_SIZE)
        self.counters["subscribed"] += 1  # once per (re)connection, in carbonline_health
        self.subscribed.set()

    def datachange_notification(self, node, value: object, data) -> None:
        """asyncua's callback for one changed value (its thread)."""
        self.counters["messages"] += 1
        node_id = node.nodeid.to_string()
        meter = self.nodes.get(node_id)
        if meter is None:
            return
        item = data.monitored_item.Value
        moment = _ns(item.SourceTimestamp) or _ns(item.ServerTimestamp) or time.time_ns()
        meter_id = self.plant.meters[meter].id
        if item.StatusCode is not None and not item.StatusCode.is_good():
            self._refuse(Reason.MALFORMED, f"status {item.StatusCode.name}", meter_id, node_id,
                         value)
        elif self.context[meter]:
            event = self._texts.event(meter, moment, str(value))
            if event is not None:
                self.inbox.put(events=[event])
        elif isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            self._refuse(Reason.NOT_A_NUMBER, f"{value!r} is not a number", meter_id, node_id,
                         value)
        else:
            self.inbox.put([(meter, moment, float(value))])

    def status_change_notification(self, status) -> None:
        """asyncua's callback when the subscription's state changes (the server shut down)."""
        log.warning("OPC UA %s: subscription status %s", self.name, status)

    def _refuse(self, reason: Reason, detail: str, meter: str, node: str, value: object) -> None:
        self.counters["rejected"] += 1
        self.inbox.put(rejections=[Rejection(
            reason, f"{self.name} {node} (meter {meter}): {detail}", repr(value)[:200])])


def _ns(moment: datetime | None) -> int | None:
    """An OPC UA timestamp as ns UTC (naive ones are UTC, as the standard says)."""
    if moment is None or moment.year < 1971:  # unset timestamps read as 1601-01-01
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000
