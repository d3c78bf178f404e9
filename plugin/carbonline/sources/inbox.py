"""What the live sources share: an inbox their callback threads (paho's network thread,
asyncua's event loop, the HTTP app) drop input into, and ``read()`` hands on as batches; and
the rest of a live source's common ground (:class:`LiveSource`).

A live ``read()`` must block while nothing arrives yet return often enough to be stopped
(the hookspec's contract); :meth:`Inbox.batches` is that loop, once for every source.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

from ..plant import PlantModel
from ..records import READING, ContextEvent, ReadingBatch, Rejection, merged
from .changes import TextChanges

#: How long a live ``read()`` waits before yielding an empty batch, seconds.
IDLE_YIELD_S = 1.0
#: The shortest time between two batches, seconds: a broker delivering one reading a message
#: would otherwise make a batch, and an engine step, of each (a step costs ~0.3 ms, which
#: capped a run near 3,000 readings/s); waiting this long adds at most as much latency.
GATHER_S = 0.02


class Inbox:
    """Thread-safe: ``put`` from any thread; ``batches()`` in the reading thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.closed = threading.Event()
        self._readings: list[tuple[int, int, float]] = []  # (meter, time ns, value)
        self._events: list[ContextEvent] = []
        self._rejections: list[Rejection] = []
        self._batches: list[ReadingBatch] = []
        self._receipts: list = []

    def put(self, readings: Iterable[tuple[int, int, float]] = (),
            events: Iterable[ContextEvent] = (), rejections: Iterable[Rejection] = (),
            receipt: object = None) -> None:
        """Add input; ``receipt`` (an MQTT message id, say) rides along in the batch, to be
        acknowledged once that batch is safe."""
        with self._lock:
            self._readings.extend(readings)
            self._events.extend(events)
            self._rejections.extend(rejections)
            if receipt is not None:
                self._receipts.append(receipt)
        self._wake.set()

    def put_batch(self, batch: ReadingBatch) -> None:
        with self._lock:
            self._batches.append(batch)
        self._wake.set()

    def close(self) -> None:
        """Make :meth:`batches` end (from any thread)."""
        self.closed.set()
        self._wake.set()

    def batches(self) -> Iterator[ReadingBatch]:
        """What arrived, at least every IDLE_YIELD_S (empty when nothing did) and at most
        every GATHER_S, until closed; then what is left."""
        last = 0.0
        while not self.closed.is_set():
            self._wake.wait(IDLE_YIELD_S)
            self._wake.clear()
            linger = last + GATHER_S - time.monotonic()
            if linger > 0:
                self.closed.wait(linger)
            last = time.monotonic()
            yield self.take()
        yield self.take()

    def take(self) -> ReadingBatch:
        with self._lock:
            parts = [*self._batches, ReadingBatch(np.array(self._readings, dtype=READING),
                                                  self._events, self._rejections)]
            receipts = self._receipts or None
            self._readings, self._events, self._rejections, self._batches = [], [], [], []
            self._receipts = []
        if len(parts) == 1:
            parts[0].receipt = receipts
            return parts[0]
        return merged(parts, receipts)


class LiveSource:
    """The base of a live source: its section's ``settings`` and ``name`` (the URL),
    ``counters`` for ``carbonline_health``, the inbox its callbacks fill, which context text
    each SKU/order meter last had, and ``close()`` (callable from any thread)."""

    def __init__(self, plant: PlantModel, settings) -> None:
        self.plant = plant
        self.settings = settings
        self.name: str = settings.url
        self.counters: Counter[str] = Counter()
        self.inbox = Inbox()
        self._texts = TextChanges()

    def close(self) -> None:
        self.inbox.close()
