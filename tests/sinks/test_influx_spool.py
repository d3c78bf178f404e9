"""The InfluxDB writer's disk spool: points outlive an outage and a restart, bounded."""

from __future__ import annotations

from carbonline.config import InfluxSink
from carbonline.sinks.influx import InfluxWriter
from carbonline.sinks.spool import Spool
from servers._common import free_ports

T0 = 1_772_431_200 * 10**9


def lines(n: int, start: int = 0) -> list[str]:
    return [f"carbon_test,line=l1 n={i}i {T0 + i * 10**9}" for i in range(start, start + n)]


def test_points_spooled_while_down_are_written_once_by_the_next_start(influxdb, influx_db,
                                                                    tmp_path):
    (dead,) = free_ports(1)
    down = InfluxWriter(InfluxSink(url=f"http://127.0.0.1:{dead}", database=influx_db,
                                   api="v1", flush_interval=0.05), "down", max_queue=10,
                        spool=Spool(tmp_path, "influx plant", 1000))
    down.write_lines(lines(100))
    assert not down.flush(1.0)
    assert down.queue_depth == 100 and down.spool_depth == 100  # nothing acknowledged
    assert down.close(wait=0.2) == 100  # kept on disk, not lost
    # the next start (same state store and sink), with the server back
    up = InfluxWriter(InfluxSink(url=influxdb.url, database=influx_db, api="v1",
                                 flush_interval=0.05), "up", max_queue=10,
                      spool=Spool(tmp_path, "influx plant", 1000))
    up.write_lines(lines(20, start=100))
    assert up.flush(30), f"{up.spool_depth} points still spooled"
    assert up.close() == 0
    body = influxdb.query('SELECT "n" FROM "carbon_test"', db=influx_db)
    values = [row[1] for row in body["results"][0]["series"][0]["values"]]
    assert values == list(range(120))  # every point once, in order


def test_a_full_spool_refuses_counts_and_says_so(tmp_path):
    (dead,) = free_ports(1)
    writer = InfluxWriter(InfluxSink(url=f"http://127.0.0.1:{dead}", database="x", api="v1"),
                          "w", spool=Spool(tmp_path, "influx w", 50))
    writer.write_lines(lines(80))
    assert writer.spool_depth == 50 and writer.spool_full
    assert writer.counters["points_dropped"] == 30
    writer.close(wait=0.1)
