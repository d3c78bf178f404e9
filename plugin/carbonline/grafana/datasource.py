"""The one InfluxQL datasource every dashboard panel and alert rule queries, by a fixed uid.

Why a fixed uid rather than an ``${DS_…}`` import placeholder: provisioning, UI import and
``grafana push`` then all produce the same references, and alert rules (which cannot use
placeholders) point at the same datasource as the panels. The provisioning files define this uid
for InfluxDB 1.x and, alternatively, for InfluxDB 2.x through its DBRP mapping.
"""

from __future__ import annotations

from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models.dashboard import DataSourceRef

DATASOURCE_UID = "carbonline-influxql"
FOLDER_UID = "carbonline"
FOLDER_TITLE = "carbonline"
INFLUX = DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)


class InfluxQL(Builder[UnknownDataquery]):
    """A raw InfluxQL target: the foundation SDK has no InfluxDB query builder, and Grafana's
    InfluxDB plugin takes ``{"query", "rawQuery": true, "resultFormat"}`` for a hand-written
    query (``resultFormat`` is ``time_series`` or ``table``)."""

    def __init__(self, ref_id: str, query: str, result_format: str = "time_series") -> None:
        self._query = UnknownDataquery({
            "refId": ref_id, "datasource": INFLUX.to_json(), "query": query,
            "rawQuery": True, "resultFormat": result_format})

    def build(self) -> UnknownDataquery:
        return self._query
