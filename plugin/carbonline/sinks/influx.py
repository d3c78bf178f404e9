"""The built-in InfluxDB writer: the carbon series into the plant's InfluxDB.

It claims the output that is the ``[sinks.influx]`` URL (with that section's settings), and any
other ``http://``/``https://`` output written ``http://host:8086?db=NAME`` (defaults otherwise).
Rows become line protocol with :func:`carbonline.sinks.lineprotocol.to_line_protocol` (the
text ``influxdb_client.Point`` writes) and go out by one of two write paths behind one sink:

- **v2**: influxdb-client's batching ``WriteApi`` (retries with exponential backoff on 429/5xx
  and lost connections) against ``/api/v2/write``: InfluxDB 2.x, 3.x, Cloud, and 1.8+ through
  its compatibility API (bucket ``database/retention_policy``, token ``username:password``).
- **v1**: ``POST /write?db=…&rp=…&precision=ns`` through httpx, for InfluxDB 1.0–1.7, which
  have no v2 API. Batches of ``batch_size`` lines, sent by a background thread at least every
  ``flush_interval``.

``api = "auto"`` asks ``GET /ping``: a ``X-Influxdb-Version`` of 1.0–1.7 means v1, anything else
— 1.8+, 2.x, 3.x, or no header at all, as VictoriaMetrics answers — means v2.

Nothing accepted is dropped quietly. Both paths keep unsent points in memory, in order, and
retry with backoff (0.5 s doubling to 60 s; the v2 path gives a batch up after a day) while
the server is down or refuses the
credentials or database (401/403/404: a configuration error, logged each time with the
server's message, since points kept may be written once it is fixed). A 400 (the server calls
the points themselves invalid) is logged with the server's reason and counted as
``points_refused``; retrying would never succeed. ``counters`` and ``queue_depth`` (points not
yet acknowledged) go to ``carbonline_health``; the disk spool for long outages comes with the
resilience work.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
from influxdb_client import InfluxDBClient, WriteOptions
from influxdb_client.client.exceptions import InfluxDBError

from ..config import InfluxServer, InfluxSink, Tls
from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import Row
from .lineprotocol import to_line_protocol

log = logging.getLogger(__name__)

#: Backoff between retries of a failed write, seconds: first, then doubled up to the last.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 60.0
#: How long the v2 path keeps retrying one batch before counting it as not written, ms.
V2_RETRY_FOR_MS = 24 * 3600 * 1000
#: How long ``close()`` waits for unsent points, seconds.
CLOSE_WAIT_S = 30.0


@hookimpl
def carbonline_sinks(plant: PlantModel, outputs: Sequence[str]) -> list:
    """Claim the ``[sinks.influx]`` URL and ``http(s)://host:port?db=NAME`` outputs."""
    configured = plant.config.sinks.influx
    sinks = []
    for output in outputs:
        if configured is not None and output == configured.url:
            sinks.append(InfluxWriter(configured, output))
        elif output.startswith(("http://", "https://")) and "db" in parse_qs(
                urlsplit(output).query):
            parts = urlsplit(output)
            base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            database = parse_qs(parts.query)["db"][0]
            sinks.append(InfluxWriter(InfluxSink(url=base, database=database), output))
    return sinks


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
    """``"v1"`` for InfluxDB 1.0–1.7 (from ``/ping``'s ``X-Influxdb-Version``), else ``"v2"``."""
    with http_client(settings) as http:
        version = http.get("/ping").headers.get("X-Influxdb-Version", "")
    match = re.match(r"v?1\.(\d+)", version)
    return "v1" if match and int(match.group(1)) < 8 else "v2"


class InfluxWriter:
    """One InfluxDB output; see the module docstring."""

    def __init__(self, settings: InfluxSink, name: str) -> None:
        self.name = name
        self.settings = settings
        self.counters: Counter[str] = Counter()
        api = settings.api
        if api == "auto":
            try:
                api = detect_api(settings)
            except httpx.HTTPError as exc:
                log.warning("InfluxDB %s: /ping failed (%s); using the v2 write API",
                            settings.url, exc)
                api = "v2"
        self.api = api
        self._path = _V1Path(settings, self.counters) if api == "v1" else _V2Path(
            settings, self.counters)

    def write(self, rows: Iterable[Row]) -> None:
        lines = [to_line_protocol(row) for row in rows]
        if lines:
            self._path.send(lines)

    @property
    def queue_depth(self) -> int:
        """Points handed over and not yet acknowledged by the server."""
        return self._path.pending()

    def flush(self, timeout: float = CLOSE_WAIT_S) -> bool:
        """Wait until every point is acknowledged; ``False`` if some are still pending."""
        return self._path.flush(timeout)

    def close(self, wait: float = CLOSE_WAIT_S) -> None:
        """Send what is left (waiting up to ``wait`` seconds) and say what could not be."""
        if not self._path.flush(wait):
            log.error("InfluxDB %s: %d points not written at close (server unreachable or "
                      "refusing)", self.settings.url, self._path.pending())
        self._path.close()


class _V1Path:
    """``/write`` through httpx from a background thread, batches in order, retried."""

    def __init__(self, settings: InfluxSink, counters: Counter[str]) -> None:
        self.settings = settings
        self.counters = counters
        self.http = http_client(settings)
        self.params = {"db": settings.database, "precision": "ns"}
        if settings.retention_policy:
            self.params["rp"] = settings.retention_policy
        if settings.token is None and settings.username:  # 1.x also reads u/p parameters
            self.params.update(u=settings.username, p=settings.password or "")
        self.queue: deque[str] = deque()
        self.inflight = 0
        self.lock = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._run, daemon=True, name="influx v1 writer")
        self.thread.start()

    def send(self, lines: list[str]) -> None:
        with self.lock:
            self.queue.extend(lines)
            if len(self.queue) >= self.settings.batch_size:
                self.lock.notify_all()

    def pending(self) -> int:
        with self.lock:
            return len(self.queue) + self.inflight

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            self.lock.notify_all()
            while self.queue or self.inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(min(remaining, 0.1))
                self.lock.notify_all()
        return True

    def close(self) -> None:
        with self.lock:
            self.closing = True
            self.lock.notify_all()
        self.thread.join(5)
        self.http.close()

    def _run(self) -> None:
        backoff = RETRY_FIRST_S
        while True:
            with self.lock:
                if not self.queue:
                    self.lock.wait(self.settings.flush_interval)
                if self.closing:
                    return
                if not self.queue:
                    continue
                batch = [self.queue.popleft()
                         for _ in range(min(len(self.queue), self.settings.batch_size))]
                self.inflight = len(batch)
            done = self._post(batch)
            with self.lock:
                self.inflight = 0
                if not done:
                    self.queue.extendleft(reversed(batch))  # back in front, order kept
                self.lock.notify_all()
            if done:
                backoff = RETRY_FIRST_S
            else:
                self.counters["retries"] += 1
                with self.lock:
                    self.lock.wait(backoff)
                    if self.closing:
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
    """influxdb-client's batching WriteApi; its callbacks keep the counts."""

    def __init__(self, settings: InfluxSink, counters: Counter[str]) -> None:
        self.settings = settings
        self.counters = counters
        token = settings.token or (f"{settings.username}:{settings.password}"
                                   if settings.username else "")
        self.bucket = settings.database + (f"/{settings.retention_policy}"
                                           if settings.retention_policy else "")
        tls = settings.tls
        self.client = InfluxDBClient(
            url=settings.url, token=token, org=settings.org or "-",
            timeout=int(settings.timeout * 1000),
            verify_ssl=not (tls is not None and tls.insecure),
            ssl_ca_cert=tls.ca if tls is not None else None,
            cert_file=tls.certificate if tls is not None else None,
            cert_key_file=tls.private_key if tls is not None else None)
        self.lock = threading.Condition()
        self.sent = 0
        self.settled = 0
        self.api = self.client.write_api(
            write_options=WriteOptions(
                batch_size=settings.batch_size, flush_interval=int(settings.flush_interval * 1000),
                retry_interval=int(RETRY_FIRST_S * 1000), max_retry_delay=int(RETRY_MAX_S * 1000),
                max_retries=1_000_000, max_retry_time=V2_RETRY_FOR_MS, exponential_base=2),
            success_callback=self._success, error_callback=self._error,
            retry_callback=self._retry)

    def send(self, lines: list[str]) -> None:
        with self.lock:
            self.sent += len(lines)
        self.api.write(bucket=self.bucket, org=self.settings.org or "-", record=lines)

    def pending(self) -> int:
        with self.lock:
            return self.sent - self.settled

    def flush(self, timeout: float) -> bool:
        self.api.flush()
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.sent > self.settled:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(min(remaining, 0.1))
        return True

    def close(self) -> None:
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
        self.counters["failures"] += 1
        self.counters["points_refused"] += count
        log.error("InfluxDB %s: %d points not written: %s", self.settings.url, count, exception)

    def _retry(self, conf: tuple, data: str | bytes, exception: InfluxDBError | Exception) -> None:
        self.counters["retries"] += 1
        log.warning("InfluxDB %s: write failed (%s); retrying", self.settings.url, exception)
