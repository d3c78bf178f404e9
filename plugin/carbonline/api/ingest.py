"""``POST /api/v1/readings``: readings a flow already holds, into the run — a live source whose
input arrives over HTTP instead of a broker.

A reading is the design brief's input convention ``carbonline/<site>/in/<meter>`` with
``{"ts", "value", "unit"}``, parsed by the MQTT source's own code for that convention
(:class:`carbonline.sources.mqtt.MqttSource`, which never connects here), so a reading means
the same whichever way it came: ``ts`` RFC 3339 / ISO 8601 (a time without offset is in the
site's zone) or epoch s/ms/µs/ns; ``value`` a number (text for SKU and order meters);
``unit``, when given, must be the meter's.

**Nothing accepted is lost.** The answer (202, ``{"accepted", "rejected"}``) waits until the
run has taken the batch — logged in the state store first when ``[run] state_dir`` is set —
through the source ``receipt``/``acknowledge`` contract the MQTT source uses. If the run does
not take it within ``ACK_WAIT_S`` (it is stopping) the answer is 503 and the flow should send
again (a reading sent twice is refused by the engine as a ``duplicate``). A body that is not
the documented shape is a 422 and nothing of it is used; a reading that cannot be used (an
unknown meter, a wrong unit, a bad timestamp) is listed in ``rejected`` with its index and
reason, counted in ``carbonline_health`` and the rest go on. Readings can still be refused
later by the engine (``duplicate``, ``late``…), as from any source.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr

from ..config import MqttBroker
from ..plant import PlantModel
from ..records import ContextEvent, ReadingBatch, Rejection
from ..sources.inbox import Inbox
from ..sources.mqtt import MqttSource, _Refused
from .errors import ApiError
from .problems import problems

#: How long an answer waits for the run to take the readings, seconds.
ACK_WAIT_S = 10.0
#: Readings in one request at most (a larger body is a 422: send it in parts).
MAX_READINGS = 10_000


class ReadingIn(BaseModel):
    """One reading of one meter (the plant.toml ``[[meters]] id``)."""

    meter: str = Field(min_length=1)
    ts: StrictInt | StrictFloat | StrictStr = Field(
        description="RFC 3339 (no offset: site time) or epoch seconds, ms, µs or ns")
    value: StrictInt | StrictFloat | StrictStr = Field(
        description="in the meter's unit; text for SKU and order meters")
    unit: str | None = Field(None, description="if given, must be the meter's unit")


class ReadingsIn(BaseModel):
    readings: list[ReadingIn] = Field(max_length=MAX_READINGS)


class Rejected(BaseModel):
    index: int = Field(description="position in 'readings'")
    reason: str = Field(description="the rejection reason, then the details")


class Accepted(BaseModel):
    """What was handed to the run and what was refused, and why."""

    accepted: int
    rejected: list[Rejected]


class HttpReadings:
    """The source behind ``POST /api/v1/readings`` (``router``); ``carbonline run`` adds one,
    so it shows in ``carbonline_health`` as ``source <name>``."""

    def __init__(self, plant: PlantModel, name: str) -> None:
        self.name = name
        self.counters: Counter[str] = Counter()
        self.inbox = Inbox()
        # the input convention's parser, with its per-meter context-text memory
        self._convention = MqttSource(plant, MqttBroker(url="mqtt://http-api"))
        self._lock = threading.Lock()  # requests are answered in several threads
        self.router = _router(self)

    def read(self) -> Iterator[ReadingBatch]:
        """What requests handed in, at least every second, until :meth:`close`."""
        return self.inbox.batches()

    def acknowledge(self, receipt: list[threading.Event]) -> None:
        """The batches are taken (logged, with a state store): their requests may answer."""
        for taken in receipt:
            taken.set()

    def close(self) -> None:
        self.inbox.close()

    def receive(self, readings: list[ReadingIn]) -> Accepted:
        """Parse, hand over, wait until taken; see the module docstring."""
        if self.inbox.closed.is_set():
            raise ApiError(503, "the run is stopping: send the readings again once it is back")
        arrival = time.time_ns()
        values: list[tuple[int, int, float]] = []
        events: list[ContextEvent] = []
        refused: list[Rejection] = []
        rejected: list[Rejected] = []
        convention = self._convention
        with self._lock:
            for index, reading in enumerate(readings):
                payload = json.dumps(reading.model_dump(exclude={"meter"}, exclude_none=True))
                mine: list[tuple[int, int, float]] = []
                mine_events: list[ContextEvent] = []
                try:
                    convention._parse(convention.input_prefix + reading.meter,
                                      payload.encode(), arrival, mine, mine_events)
                except _Refused as exc:
                    refused.append(Rejection(exc.reason, f"{self.name} readings[{index}] "
                                             f"meter {reading.meter!r}: {exc.detail}", payload))
                    rejected.append(Rejected(index=index,
                                             reason=f"{exc.reason.value}: {exc.detail}"))
                    continue
                values.extend(mine)
                events.extend(mine_events)
        self.counters["requests"] += 1
        self.counters["readings"] += len(readings) - len(rejected)
        self.counters["rejected"] += len(rejected)
        taken = threading.Event()
        self.inbox.put(values, events, refused, receipt=taken)
        if not taken.wait(ACK_WAIT_S):
            self.counters["not_taken"] += 1
            raise ApiError(503, f"the run did not take the readings within {ACK_WAIT_S:.0f} s "
                           "(it is stopping or overloaded): send them again")
        return Accepted(accepted=len(readings) - len(rejected), rejected=rejected)


def _router(source: HttpReadings) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["readings"])

    @api.post("/readings", status_code=202, response_model=Accepted,
              responses=problems(400, 401, 503),
              summary="Meter readings a flow holds, into the run (the MQTT input convention)")
    def post_readings(body: ReadingsIn) -> Accepted:
        return source.receive(body.readings)

    return api
