"""The built-in InfluxDB writer: the carbon series into the plant's InfluxDB.

It claims the output that is the ``[sinks.influx]`` URL (with that section's settings), and any
other ``http://``/``https://`` output written ``http://host:8086?db=NAME`` (defaults otherwise;
a URL without ``?db=`` is left for other plugins). Rows become line protocol with
:func:`carbonline.sinks.lineprotocol.to_line_protocol` (the text ``influxdb_client.Point``
writes) and go out by one of two write paths behind one sink, :class:`InfluxWriter`:

- **v2**: influxdb-client's batching ``WriteApi`` (retries with exponential backoff on 429/5xx
  and lost connections) against ``/api/v2/write``: InfluxDB 2.x, 3.x, Cloud, and 1.8+ through
  its compatibility API (bucket ``database/retention_policy``, token ``username:password``),
  organisation from ``org`` (default ``-``, which 1.8 and 3.x ignore).
- **v1**: ``POST /write?db=…&rp=…&precision=ns`` through httpx, for InfluxDB 1.0–1.7, which
  have no v2 API (basic auth, or ``Authorization: Token …``). A background thread sends a batch
  when ``batch_size`` points are waiting or the oldest has waited ``flush_interval`` seconds.

``api = "auto"`` asks ``GET /ping``: a ``X-Influxdb-Version`` of 1.0–1.7 means v1, anything else
means v2 — 1.8+, 2.x, 3.x, or no header at all. VictoriaMetrics (checked on 1.79.5) answers
``/ping`` with 204 and *no* version header (only its ``/write`` says ``1.8.0``), so it is
written through v2, which it accepts. While ``/ping`` gets no answer (carbonline started before
the database, after a power cut) the sink keeps the points and asks again with backoff, so an
InfluxDB 1.6 that comes up late still gets v1 instead of a v2 path that could never write.

Nothing accepted is dropped quietly. Both paths keep unsent points in memory, in order, and
retry with backoff (0.5 s doubling to 60 s; the v2 path gives a batch up after a day) while the
server is down. In memory means bounded: beyond ``max_queue`` unacknowledged points a write is
refused, counted as ``points_dropped`` and logged (a disk spool for long outages comes with the
resilience work). What the server refuses is logged with the server's own message and counted
as ``failures``:

- v1, 401/403/404 (bad credentials, database not found): a configuration error, logged at each
  retry; the points are kept, since they go in once the engineer fixes it.
- 400 (the server calls the points invalid; v1 and v2) and, on v2, any other 4xx
  (influxdb-client retries only 429 and 5xx): counted as ``points_refused``, since sending them
  again could never succeed.

``counters`` (``points_written``, ``batches``, ``retries``, ``failures``, ``points_refused``,
``points_dropped``, ``points_undelivered``) and ``queue_depth`` go to ``carbonline_health``.
``close()`` waits a bounded time for the rest and logs and returns what was not delivered.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from typing import Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
from influxdb_client import InfluxDBClient, WriteOptions
from influxdb_client.client.exceptions import InfluxDBError
from reactivex.scheduler import EventLoopScheduler

from ..config import InfluxServer, InfluxSink, Tls
from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import Row
from .lineprotocol import to_line_protocol
from .spool import Spool

log = logging.getLogger(__name__)

#: Backoff between retries of a failed write or ``/ping``, seconds: first, then doubled up to
#: the last (a minute: an outage of hours costs a request a minute, and recovery is seen soon).
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 60.0
#: How long the v2 path keeps retrying one batch before counting it as not written, ms.
V2_RETRY_FOR_MS = 24 * 3600 * 1000
#: How often spooled points are handed on and acknowledged ones forgotten, seconds.
FEED_EVERY_S = 0.1
#: How long ``close()`` waits for unsent points, seconds.
CLOSE_WAIT_S = 30.0


@hookimpl
def carbonline_sinks(plant: PlantModel, outputs: Sequence[str]) -> list:
    """Claim the ``[sinks.influx]`` URL and ``http(s)://host:port?db=NAME`` outputs."""
    configured = plant.config.sinks.influx
    sinks = []
    for output in outputs:
        if configured is not None and output == configured.url:
            state = plant.config.run.state_dir
            spool = (Spool(state, f"influx {output}", configured.spool_max_points)
                     if state else None)
            sinks.append(InfluxWriter(configured, output, spool=spool))
        elif output.startswith(("http://", "https://")) and (
                settings := url_settings(output)) is not None:
            sinks.append(InfluxWriter(settings, output))
    return sinks


def url_settings(url: str, database: str | None = None) -> InfluxSink | None:
    """Default settings for ``http://host:8086?db=NAME`` (``database`` when the URL names
    none); ``None`` when neither gives a database."""
    parts = urlsplit(url)
    database = parse_qs(parts.query).get("db", [database])[0]
    if database is None:
        return None
    return InfluxSink(url=urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
                      database=database)


def http_client(settings: InfluxServer) -> httpx.Client:
    """An httpx client for the server's v1 API: base URL, credentials, TLS, timeout. A token
    goes in ``Authorization: Token …`` (2.x/3.x v1 compatibility), a username and password as
    basic auth (1.x)."""
    headers = {"Authorization": f"Token {settings.token}"} if settings.token else {}
    auth = (settings.username, settings.password) if settings.username else None
    return httpx.Client(base_url=settings.url.rstrip("/"), headers=headers, auth=auth,
                        verify=_verify(settings.tls), cert=_cert(settings.tls),
                        timeout=settings.timeout)


def _verify(tls: Tls | None) -> bool | str:
    if tls is None:
        return True
    if tls.insecure:
        return False
    return tls.ca or True


def _cert(tls: Tls | None) -> tuple[str, str] | None:
    if tls is not None and tls.certificate and tls.private_key:
        return (tls.certificate, tls.private_key)
    return None


def detect_api(settings: InfluxServer) -> str:
    """``"v1"`` for InfluxDB 1.0–1.7 (from ``/ping``'s ``X-Influxdb-Version``), else ``"v2"``.
    Raises :class:`httpx.HTTPError` when the server does not answer."""
    with http_client(settings) as http:
        version = http.get("/ping").headers.get("X-Influxdb-Version", "")
    match = re.match(r"v?1\.(\d+)", version)
    return "v1" if match and int(match.group(1)) < 8 else "v2"


class _Path(Protocol):
    """What :class:`InfluxWriter` needs of a write path."""

    def send(self, lines: list[str]) -> None: ...
    def pending(self) -> int: ...
    def flush(self, timeout: float) -> bool: ...
    def close(self) -> None: ...


class InfluxWriter:
    """One InfluxDB output; see the module docstring. ``max_queue``: unacknowledged points
    kept in memory before writes are refused (counted and logged)."""

    def __init__(self, settings: InfluxSink, name: str, max_queue: int | None = None,
                 spool: Spool | None = None) -> None:
        self.name = name
        self.settings = settings
        self.max_queue = max_queue or settings.max_queue
        self.spool = spool
        self._sent: deque[int] = deque()  # spool ids handed to the write path, in order
        self._last_sent = 0
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._path: _Path | None = None
        self._waiting: list[str] = []  # written before the API was known, in order
        self._closed = threading.Event()
        self._api: str | None = None
        if spool is not None:
            threading.Thread(target=self._feed, daemon=True,
                             name=f"influx spool {settings.url}").start()
        if settings.api != "auto":
            self._use(settings.api)
            return
        try:
            self._use(detect_api(settings))
        except httpx.HTTPError as exc:
            log.warning("InfluxDB %s: /ping failed (%s); points kept until it answers",
                        settings.url, exc)
            threading.Thread(target=self._detect_later, daemon=True,
                             name=f"influx detect {settings.url}").start()

    @property
    def api(self) -> str | None:
        """``"v1"`` or ``"v2"``; ``None`` while ``api = "auto"`` waits for ``/ping``."""
        return self._api

    def write(self, rows: Iterable[Row]) -> None:
        """Queue the rows, in order; beyond ``max_queue`` pending points they are refused."""
        self.write_lines([to_line_protocol(row) for row in rows])

    def write_lines(self, lines: list[str]) -> None:
        """Queue line-protocol lines as they are (the simulator's raw meter readings)."""
        if not lines:
            return
        if self.spool is not None:
            refused = self.spool.push(lines)
            if refused:
                self.counters["points_dropped"] += refused
                log.error("InfluxDB %s: the spool is full (%d points); %d new points "
                          "dropped", self.settings.url, self.spool.depth, refused)
            return
        with self._lock:
            room = max(self.max_queue - self._pending(), 0)
            if room < len(lines):
                self.counters["points_dropped"] += len(lines) - room
                log.error("InfluxDB %s: %d points waiting, the most kept in memory; %d new "
                          "points dropped", self.settings.url, self._pending(),
                          len(lines) - room)
                lines = lines[:room]
            if not lines:
                return
            if self._path is None:
                self._waiting.extend(lines)
            else:
                self._path.send(lines)

    @property
    def queue_depth(self) -> int:
        """Points handed over and not yet acknowledged by the server (spooled ones too)."""
        if self.spool is not None:
            return self.spool.depth
        with self._lock:
            return self._pending()

    @property
    def spool_depth(self) -> int | None:
        """Points in the disk spool; ``None`` without one."""
        return None if self.spool is None else self.spool.depth

    @property
    def spool_full(self) -> bool:
        return self.spool is not None and self.spool.full

    def _feed(self) -> None:
        """With a spool: hand spooled points to the write path, at most ``max_queue`` in
        flight, and forget them once acknowledged. Paths deliver in order, so the points
        acknowledged are the oldest handed over."""
        assert self.spool is not None
        while not self._closed.wait(FEED_EVERY_S):
            with self._lock:
                path = self._path
                if path is None:
                    continue
                acknowledged = len(self._sent) - path.pending()
                last = None
                for _ in range(max(acknowledged, 0)):
                    last = self._sent.popleft()
                if last is not None:
                    self.spool.remove_through(last)
                room = self.max_queue - path.pending()
                if room > 0:
                    rows = self.spool.after(self._last_sent, room)
                    if rows:
                        path.send([line for _, line in rows])
                        self._sent.extend(i for i, _ in rows)
                        self._last_sent = rows[-1][0]

    def flush(self, timeout: float = CLOSE_WAIT_S) -> bool:
        """Wait up to ``timeout`` seconds until every point is acknowledged; ``False`` if some
        are still pending."""
        deadline = time.monotonic() + timeout
        if self.spool is not None:  # acknowledged = gone from the spool
            while self.spool.depth:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(FEED_EVERY_S)
            return True
        while self._path is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return self._path.flush(max(deadline - time.monotonic(), 0))

    def close(self, wait: float = CLOSE_WAIT_S) -> int:
        """Send what is left, waiting up to ``wait`` seconds; log and return the number of
        points that could not be delivered (also counted as ``points_undelivered``)."""
        self.flush(wait)
        with self._lock:
            self._closed.set()
            undelivered = self._pending() if self.spool is None else self.spool.depth
            path = self._path
        if undelivered and self.spool is not None:
            log.warning("InfluxDB %s: %d points stay in the spool for the next start",
                        self.settings.url, undelivered)
        elif undelivered:
            self.counters["points_undelivered"] += undelivered
            log.error("InfluxDB %s: %d points not written at close (server unreachable or "
                      "refusing)", self.settings.url, undelivered)
        if path is not None:
            path.close()
        if self.spool is not None:
            self.spool.close()
        return undelivered

    def _pending(self) -> int:
        return len(self._waiting) + (self._path.pending() if self._path is not None else 0)

    def _use(self, api: str) -> None:
        """Start the write path for ``api`` and hand it what was written meanwhile."""
        path = (_V1Path if api == "v1" else _V2Path)(self.settings, self.counters)
        with self._lock:
            closed = self._closed.is_set()
            if not closed:
                self._api, self._path = api, path
                if self._waiting:
                    path.send(self._waiting)
                    self._waiting = []
        if closed:  # /ping answered just as the sink closed: its points are counted already
            path.close()

    def _detect_later(self) -> None:
        """Ask ``/ping`` with backoff until it answers (or the sink is closed)."""
        backoff = RETRY_FIRST_S
        while not self._closed.wait(backoff):
            try:
                api = detect_api(self.settings)
            except httpx.HTTPError:
                self.counters["retries"] += 1
                backoff = min(backoff * 2, RETRY_MAX_S)
                continue
            log.info("InfluxDB %s answered /ping: writing through the %s API",
                     self.settings.url, api)
            self._use(api)
            return


class _V1Path:
    """``/write`` through httpx from a background thread: batches in order, retried."""

    def __init__(self, settings: InfluxSink, counters: Counter[str]) -> None:
        self.settings = settings
        self.counters = counters
        self.http = http_client(settings)
        self.params = {"db": settings.database, "precision": "ns"}
        if settings.retention_policy:
            self.params["rp"] = settings.retention_policy
        self.queue: deque[str] = deque()
        self.inflight = 0
        self.due = 0.0  # monotonic time by which the oldest queued point must be sent
        self.flushing = 0  # flush() callers waiting: send without waiting for a full batch
        self.closing = False
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"influx v1 {settings.url}")
        self.thread.start()

    def send(self, lines: list[str]) -> None:
        with self.lock:
            if not self.queue:
                self.due = time.monotonic() + self.settings.flush_interval
            self.queue.extend(lines)
            self.lock.notify_all()

    def pending(self) -> int:
        with self.lock:
            return len(self.queue) + self.inflight

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            self.flushing += 1
            self.lock.notify_all()
            try:
                return self.lock.wait_for(lambda: not (self.queue or self.inflight),
                                          max(deadline - time.monotonic(), 0))
            finally:
                self.flushing -= 1

    def close(self) -> None:
        with self.lock:
            self.closing = True
            self.lock.notify_all()
        self.thread.join(self.settings.timeout + 1)
        self.http.close()

    def _next_batch(self) -> list[str] | None:
        """Wait (lock held) until a batch is due and take it; ``None`` once closing."""
        while not self.closing:
            now = time.monotonic()
            if self.queue and (self.flushing or len(self.queue) >= self.settings.batch_size
                               or now >= self.due):
                batch = [self.queue.popleft()
                         for _ in range(min(len(self.queue), self.settings.batch_size))]
                self.inflight = len(batch)
                return batch
            self.lock.wait(self.due - now if self.queue else None)
        return None

    def _run(self) -> None:
        backoff = RETRY_FIRST_S
        while True:
            with self.lock:
                batch = self._next_batch()
            if batch is None:
                return
            done = self._post(batch)
            with self.lock:
                self.inflight = 0
                if not done:
                    self.queue.extendleft(reversed(batch))  # back in front, order kept
                self.lock.notify_all()
                if done:
                    backoff = RETRY_FIRST_S
                    continue
                self.counters["retries"] += 1
                if self.lock.wait_for(lambda: self.closing, backoff):
                    return
            backoff = min(backoff * 2, RETRY_MAX_S)

    def _post(self, batch: list[str]) -> bool:
        """Send one batch; ``True`` when it need not be sent again."""
        try:
            response = self.http.post("/write", params=self.params,
                                      content="\n".join(batch).encode())
        except httpx.HTTPError as exc:
            self.counters["failures"] += 1
            log.warning("InfluxDB %s unreachable (%s); %d points kept, retrying",
                        self.settings.url, exc, len(batch))
            return False
        if response.status_code == 204:
            self.counters["points_written"] += len(batch)
            self.counters["batches"] += 1
            return True
        self.counters["failures"] += 1
        if response.status_code == 400:
            self.counters["points_refused"] += len(batch)
            log.error("InfluxDB %s refused %d points as invalid: %s", self.settings.url,
                      len(batch), response.text.strip())
            return True
        log.error("InfluxDB %s answered %d to a write (%s); %d points kept, retrying",
                  self.settings.url, response.status_code, response.text.strip(), len(batch))
        return False


class _V2Path:
    """influxdb-client's batching WriteApi; its callbacks keep the counts.

    Its HTTP calls (and urllib3's retry sleeps) run on one daemon thread of our own: one, so
    batches reach the server in order; daemon, so a server that never comes back cannot hold
    the process at exit (influxdb-client's default is a pool thread Python joins at exit).
    """

    def __init__(self, settings: InfluxSink, counters: Counter[str]) -> None:
        self.settings = settings
        self.counters = counters
        token = settings.token or (f"{settings.username}:{settings.password}"
                                   if settings.username else "")
        self.bucket = settings.database + (f"/{settings.retention_policy}"
                                           if settings.retention_policy else "")
        self.org = settings.org or "-"
        tls = settings.tls
        self.client = InfluxDBClient(
            url=settings.url, token=token, org=self.org,
            timeout=int(settings.timeout * 1000),
            verify_ssl=not (tls is not None and tls.insecure),
            ssl_ca_cert=tls.ca if tls is not None else None,
            cert_file=tls.certificate if tls is not None else None,
            cert_key_file=tls.private_key if tls is not None else None)
        self.lock = threading.Condition()
        self.sent = 0
        self.settled = 0
        self.closing = False
        self.api = self.client.write_api(
            write_options=WriteOptions(
                batch_size=settings.batch_size, flush_interval=int(settings.flush_interval * 1000),
                retry_interval=int(RETRY_FIRST_S * 1000), max_retry_delay=int(RETRY_MAX_S * 1000),
                max_retries=1_000_000, max_retry_time=V2_RETRY_FOR_MS, exponential_base=2,
                max_close_wait=1000, write_scheduler=EventLoopScheduler()),
            success_callback=self._success, error_callback=self._error,
            retry_callback=self._retry)

    def send(self, lines: list[str]) -> None:
        with self.lock:
            self.sent += len(lines)
        self.api.write(bucket=self.bucket, org=self.org, record=lines)

    def pending(self) -> int:
        with self.lock:
            return self.sent - self.settled

    def flush(self, timeout: float) -> bool:
        """Wait for the callbacks; the WriteApi sends a batch within ``flush_interval`` (its
        own ``flush()`` does nothing)."""
        with self.lock:
            return self.lock.wait_for(lambda: self.sent <= self.settled, timeout)

    def close(self) -> None:
        """Stop: a batch still being retried is abandoned at its next attempt."""
        with self.lock:
            self.closing = True
        self.api.close()
        self.client.close()

    def _settle(self, data: str | bytes) -> int:
        count = (data.decode() if isinstance(data, bytes) else data).count("\n") + 1
        with self.lock:
            self.settled += count
            self.lock.notify_all()
        return count

    def _success(self, conf: tuple, data: str | bytes) -> None:
        self.counters["points_written"] += self._settle(data)
        self.counters["batches"] += 1

    def _error(self, conf: tuple, data: str | bytes, exception: InfluxDBError | Exception) -> None:
        count = self._settle(data)
        if self.closing:  # abandoned by close(), which counted and logged it
            return
        self.counters["failures"] += 1
        self.counters["points_refused"] += count
        log.error("InfluxDB %s: %d points not written: %s", self.settings.url, count, exception)

    def _retry(self, conf: tuple, data: str | bytes, exception: InfluxDBError | Exception) -> None:
        """Count a retry; after ``close()`` raise instead, which ends urllib3's retry loop."""
        if self.closing:
            raise ConnectionAbortedError("the sink was closed")
        self.counters["retries"] += 1
        self.counters["failures"] += 1
        log.warning("InfluxDB %s: write failed (%s); retrying", self.settings.url, exception)
