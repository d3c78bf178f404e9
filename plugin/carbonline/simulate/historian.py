"""The simulator as a plant historian's feed: raw readings written into InfluxDB through
carbonline's own InfluxDB writer (v1 or v2, as ``/ping`` says), at plant pace or unpaced."""

from __future__ import annotations

import time

from ..records import NS_PER_S
from ..sinks.influx import InfluxWriter, url_settings
from .files import ticks_as_lines
from .model import Layout, Signals

#: Ticks of lines handed to the writer at once when unpaced.
CHUNK_TICKS = 60


def write_to_influx(plant: Layout, signals: Signals, url: str, speed: float) -> int:
    """Write every reading to ``url`` (``http://host:8086?db=NAME``, database ``plant`` when
    none is named); returns the points written. Raises ``ConnectionError`` when the server
    does not take them all within 60 s of the end."""
    writer = InfluxWriter(url_settings(url, database="plant"), url)
    first = int(signals.times[0])
    wall0 = time.monotonic()
    pending: list[str] = []
    sent = 0
    for t, lines in ticks_as_lines(plant, signals):
        if speed > 0:
            delay = wall0 + (t - first) / NS_PER_S / speed - time.monotonic()
            if delay > 0:
                writer.write_lines(pending)
                pending = []
                time.sleep(delay)
        pending.extend(lines)
        sent += len(lines)
        if len(pending) >= CHUNK_TICKS * len(lines):
            writer.write_lines(pending)
            pending = []
            if writer.queue_depth > writer.max_queue // 2:  # let the server catch up
                writer.flush(60)
    writer.write_lines(pending)
    undelivered = writer.close(60)
    if undelivered:
        raise ConnectionError(f"{undelivered} points not written to {url}")
    return sent
