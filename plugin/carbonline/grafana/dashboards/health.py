"""*carbonline health* (uid ``carbonline-health``): is carbonline itself keeping up — readings
accepted, rejected (by reason) and late, the age of each line's newest reading, and the write
queue and disk spool of the InfluxDB sink, from the ``carbonline_health`` rows a run writes
every ``[run] health_interval``.

The counts in those rows are totals since the run started, so per-interval figures are
``non_negative_difference`` of the last value per interval (a restart starts again at 0
instead of showing a negative step) and per-range figures are their ``spread``.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from ...records import Reason
from . import panels as p

UID = "carbonline-health"

_ENGINE = ("\"component\" = 'engine'", "\"line\" = ''")


def build() -> Dashboard:
    readings = p.timeseries_panel(
        "Readings accepted, rejected, late", p.READINGS,
        "Readings the engine took, refused (any reason) and refused as late, per interval.",
        [p.select("carbonline_health",
                  {what: f'non_negative_difference(last("{what}"))'
                   for what in ("accepted", "rejected", "late")},
                  p.where("site", extra=_ENGINE), p.group_by("site"))], span=24)
    reasons = p.table_panel(
        "Rejected by reason", p.READINGS,
        "Readings refused in the time range, per reason (carbonline.records.Reason).",
        [p.select("carbonline_health",
                  {reason.value: f'spread("rejected_{reason.value}")' for reason in Reason},
                  p.where("site", extra=_ENGINE), p.group_by("site", interval=None))],
        height=6)
    age_now = p.bargauge_panel(
        "Last reading age per line", p.SECONDS,
        "Seconds from each line's newest reading (event time) to the health row's wall "
        "clock: a line whose meters have gone quiet grows here first.",
        [p.select("carbonline_health", {"age": 'last("last_reading_age_s")'},
                  p.where("site", "line"), p.group_by("site", "line", interval=None))])
    age = p.timeseries_panel(
        "Reading age per line", p.SECONDS,
        "The largest last-reading age per line and interval.",
        [p.select("carbonline_health", {"age": 'max("last_reading_age_s")'},
                  p.where("site", "line"), p.group_by("site", "line"))])
    spool = p.timeseries_panel(
        "Write queue and spool depth", "suffix: points",
        "Points waiting in the InfluxDB sink's memory queue and in its disk spool "
        "([run] state_dir); both stay near 0 while InfluxDB keeps up.",
        [p.select("carbonline_health", {"write queue": 'max("queue_depth")',
                                        "spool": 'max("spool_depth")'},
                  p.where("site", extra=("\"component\" =~ /^sink /",)),
                  p.group_by("site", "component"))], span=24)
    return p.board(
        "carbonline — health", UID,
        "Readings accepted/rejected/late, last reading age per line, write queue and spool.",
        [readings, reasons, age_now, age, spool], ("site", "line"),
        variable_source="carbonline_health")
