"""What the API answers from memory: the run's recent result rows, kept as they are emitted.

``carbonline run`` hands every batch of rows it writes to :meth:`RecentRows.take` (the engine
loop's thread); the HTTP app and the MQTT request handler read from other threads, hence the
lock. Everything here is bounded, so a run of months holds no more than a few thousand rows:

- per line × SKU, the newest closed window of each kind the API shows (``1m``, ``15m``);
- per line, the ``1m`` rows of the shift running now (their sum is the shift so far, before
  the ``shift`` window itself closes);
- the newest ``MAX_ORDERS`` finished orders' ``carbon_order`` rows (older ones are read back
  from InfluxDB, :mod:`.history`);
- the alerts the analyser opened and has not resolved yet.

A row with a higher ``revision`` replaces the one with the same window, as in InfluxDB.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from ..records import AlertRow, IntensityRow, Row

#: The window kinds whose newest row each line × SKU shows.
SHOWN_WINDOWS = ("1m", "15m")
#: Finished orders kept in memory; older ones come from the history store.
MAX_ORDERS = 1000
#: Open alerts kept (far more than a plant has at once; a bound against a runaway analyser).
MAX_OPEN_ALERTS = 1000

#: (line, sku, window start ns): one piece of an order or a minute of a shift.
_Key = tuple[str, str, int]


class RecentRows:
    """The in-memory view; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str, str], IntensityRow] = {}  # (line, kind, sku) → row
        self._shift: dict[str, tuple[str, dict[_Key, IntensityRow]]] = {}  # line → (name, 1m)
        self._orders: OrderedDict[str, dict[_Key, IntensityRow]] = OrderedDict()
        self._alerts: OrderedDict[str, AlertRow] = OrderedDict()

    def take(self, rows: Iterable[Row]) -> None:
        """Remember what matters of ``rows`` (any kind; the rest is ignored)."""
        with self._lock:
            for row in rows:
                if isinstance(row, IntensityRow):
                    self._intensity(row)
                elif isinstance(row, AlertRow):
                    self._alert(row)

    def _intensity(self, row: IntensityRow) -> None:
        kind = row.window.kind
        key = (row.line, row.sku, row.window.start)
        if kind == "order":
            pieces = self._orders.pop(row.order_id, {})
            pieces[key] = row
            self._orders[row.order_id] = pieces  # the newest order last
            while len(self._orders) > MAX_ORDERS:
                self._orders.popitem(last=False)
            return
        if kind in SHOWN_WINDOWS:
            slot = (row.line, kind, row.sku)
            held = self._latest.get(slot)
            if held is None or row.window.start >= held.window.start:
                self._latest[slot] = row
        if kind == "1m" and row.shift:
            name, minutes = self._shift.get(row.line, ("", {}))
            newest = max((k[2] for k in minutes), default=None)
            if row.shift != name and (newest is None or row.window.start > newest):
                name, minutes = row.shift, {}  # the next shift has begun
            if row.shift == name:
                minutes[key] = row
            self._shift[row.line] = (name, minutes)

    def _alert(self, row: AlertRow) -> None:
        if row.state == "resolved":
            self._alerts.pop(row.alert_id, None)
            return
        self._alerts[row.alert_id] = row
        while len(self._alerts) > MAX_OPEN_ALERTS:
            self._alerts.popitem(last=False)

    # --- the API's side ----------------------------------------------------------------------

    def latest(self, line: str) -> list[IntensityRow]:
        """The newest closed ``1m`` and ``15m`` row of each SKU ``line`` has run, by kind
        and SKU."""
        with self._lock:
            return [row for (held_line, _, _), row in sorted(self._latest.items())
                    if held_line == line]

    def shift(self, line: str) -> tuple[str, list[IntensityRow]]:
        """The shift running now on ``line`` and its closed ``1m`` rows so far (``("", [])``
        without a shift calendar or before the first minute closed)."""
        with self._lock:
            name, minutes = self._shift.get(line, ("", {}))
            return name, [minutes[k] for k in sorted(minutes)]

    def order(self, order_id: str) -> list[IntensityRow]:
        """The ``carbon_order`` rows of ``order_id`` (one per line × SKU it ran as); empty
        when it is not among the newest ``MAX_ORDERS``."""
        with self._lock:
            pieces = self._orders.get(order_id, {})
            return [pieces[k] for k in sorted(pieces)]

    def open_alerts(self) -> list[AlertRow]:
        """Alerts firing and not resolved yet, oldest first."""
        with self._lock:
            return list(self._alerts.values())
