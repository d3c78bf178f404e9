"""A live source's ``read()`` run in a thread, as ``carbonline run`` runs it, for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from carbonline.records import ReadingBatch, empty_readings


class Running:
    """Collects a source's batches; ``wait_subscribed`` waits for a ``subscribed`` event."""

    def __init__(self, source, wait_subscribed: bool = True) -> None:
        self.source = source
        self.batches: list[ReadingBatch] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if wait_subscribed:
            # 90 s: a connection dropped under load is retried after 1, 2, 4, 8, 16, 32 s
            # (paho's backoff), 63 s in all; a 30 s wait failed twice on a busy CI machine
            assert source.subscribed.wait(90), (
                f"the source never subscribed; counters {dict(getattr(source, 'counters', {}))}")

    def _run(self) -> None:
        for batch in self.source.read():
            self.batches.append(batch)

    def readings(self) -> np.ndarray:
        return np.concatenate([empty_readings()] + [b.readings for b in list(self.batches)])

    def rejections(self) -> list:
        return [r for b in list(self.batches) for r in b.rejections]

    def wait(self, done: Callable[[], bool], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)

    def stop(self) -> None:
        self.source.close()
        self.thread.join(15)
        assert not self.thread.is_alive(), "read() did not return after close()"
