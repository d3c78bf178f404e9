"""The pieces every carbonline dashboard is made of: units, InfluxQL fragments, template
variables, panels on the one InfluxQL datasource, and the dashboard shell.

Why one module: the series contract (design brief §3) is read the same way everywhere —
intensity over any range is Σ ``co2e_kg`` / Σ ``good_units`` (never an average of per-window
ratios), every ``carbon_intensity``/``carbon_machine`` query names its ``window``, and the
site/line/SKU variables are multi-value regexes (``"site" =~ /^$site$/``) — so a dashboard
cannot drift from the others by writing its own variant.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import bargauge, dashboard, stat, table, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models.dashboard import (
    AnnotationQuery,
    DataTransformerConfig,
    DynamicConfigValue,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from ..datasource import INFLUX, InfluxQL

# Grafana unit ids (a standard id where Grafana has one, else a "suffix:" unit).
KG = "masskg"  # kg CO₂e
KWH = "kwatth"  # kWh
PERCENT = "percent"
SECONDS = "s"
KG_PER_UNIT = "suffix: kg CO₂e/unit"
KWH_PER_UNIT = "suffix: kWh/unit"
KG_PER_KWH = "suffix: kg CO₂e/kWh"
UNITS = "suffix: units"
UNITS_PER_HOUR = "suffix: units/h"
UNITS_PER_KG = "suffix: units/kg CO₂e"
READINGS = "suffix: readings"

#: Σ kg CO₂e / Σ good units: the only way intensity is computed over a range (kg CO₂e/unit)
INTENSITY = 'sum("co2e_kg") / sum("good_units")'
#: Σ kWh / Σ good units, the machine-level counterpart (kWh/unit)
ENERGY_PER_UNIT = 'sum("energy_kwh") / sum("good_units")'


def where(*tags: str, window: str | None = None, extra: Sequence[str] = ()) -> str:
    """``WHERE "window" = '…' AND "tag" =~ /^$tag$/ … AND $timeFilter``: each tag filtered by
    the template variable of the same name (multi-value: Grafana expands ``$tag`` to
    ``(a|b)``); ``extra`` conditions are added as written."""
    parts = [f"\"window\" = '{window}'"] if window else []
    parts += [f'"{tag}" =~ /^${tag}$/' for tag in tags]
    parts += list(extra)
    return "WHERE " + " AND ".join([*parts, "$timeFilter"])


def group_by(*tags: str, interval: str | None = "$__interval", fill: str = "none") -> str:
    """``GROUP BY time(…), "tag" … fill(…)`` (``interval=None``: by tags only, no fill)."""
    keys = ([f"time({interval})"] if interval else []) + [f'"{tag}"' for tag in tags]
    if not keys:
        return ""
    return "GROUP BY " + ", ".join(keys) + (f" fill({fill})" if interval else "")


def select(source: str, columns: dict[str, str], where_clause: str,
           group: str = "") -> str:
    """``SELECT expr AS "alias", … FROM "source" WHERE … GROUP BY …`` (``source`` a
    measurement, or a subquery in parentheses); every column is aliased, so legends and table
    headers say what they show and tests know what to expect."""
    exprs = ", ".join(f'{expr} AS "{alias}"' for alias, expr in columns.items())
    source = source if source.startswith("(") else f'"{source}"'
    return " ".join(part for part in (f"SELECT {exprs} FROM {source}", where_clause, group)
                    if part)


def variables(measurement: str, names: Sequence[str]) -> list[dashboard.QueryVariable]:
    """Chained multi-value variables (site → line → SKU): each lists the tag values of
    ``measurement`` within the variables before it, "All" selected by default."""
    built = []
    for i, name in enumerate(names):
        within = " AND ".join(f'"{prev}" =~ /^${prev}$/' for prev in names[:i])
        query = f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{name}"' + (
            f" WHERE {within}" if within else "")
        built.append(dashboard.QueryVariable(name).label(name.upper() if name == "sku"
                                                         else name.capitalize())
                     .datasource(INFLUX).query(query).multi(True).include_all(True)
                     .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
                     .sort(VariableSort.NATURAL_ASC)
                     .current(VariableOption(selected=True, text=["All"], value=["$__all"])))
    return built


def targets(panel, queries: Sequence[str], result_format: str = "time_series"):
    """``panel`` on the InfluxQL datasource with ``queries`` as targets A, B, …"""
    panel = panel.datasource(INFLUX)
    for ref, query in zip("ABCDEFGH", queries):
        panel = panel.with_target(InfluxQL(ref, query, result_format))
    return panel


def merged(panel):
    """Grafana's ``merge`` transformation: a table's queries joined on their common columns
    (one row per group-by key, the columns of every query side by side)."""
    return panel.with_transformation(DataTransformerConfig(id_val="merge", options={}))


def right_axis(panel, name_regex: str, unit: str):
    """Fields matching ``name_regex`` on the right axis in their own ``unit``: two
    quantities on one time axis (intensity next to a total, a factor, a rate)."""
    return panel.override_by_regexp(name_regex, [
        DynamicConfigValue(id_val="unit", value=unit),
        DynamicConfigValue(id_val="custom.axisPlacement", value="right")])


def field_units(panel, units: dict[str, str]):
    """Per-column units (by field name) for a panel whose columns differ in unit."""
    for name, unit in units.items():
        panel = panel.override_by_name(name, [DynamicConfigValue(id_val="unit", value=unit)])
    return panel


def timeseries_panel(title: str, unit: str, description: str, queries: Sequence[str],
                     span: int = 12, height: int = 8) -> timeseries.Panel:
    return targets(timeseries.Panel().title(title).description(description).unit(unit)
                   .span(span).height(height), queries)


def stat_panel(title: str, unit: str, description: str, queries: Sequence[str],
               span: int = 6, height: int = 5) -> stat.Panel:
    return targets(stat.Panel().title(title).description(description).unit(unit)
                   .span(span).height(height), queries)


def table_panel(title: str, unit: str, description: str, queries: Sequence[str],
                span: int = 24, height: int = 9) -> table.Panel:
    """A table (``resultFormat: table``); several queries are merged into one table."""
    panel = targets(table.Panel().title(title).description(description).unit(unit)
                    .span(span).height(height), queries, "table")
    return merged(panel) if len(queries) > 1 else panel


def bargauge_panel(title: str, unit: str, description: str, queries: Sequence[str],
                   span: int = 12, height: int = 8) -> bargauge.Panel:
    return targets(bargauge.Panel().title(title).description(description).unit(unit)
                   .span(span).height(height), queries, "table")


class _InfluxAnnotationQuery(AnnotationQuery):
    """The SDK's annotation model has no InfluxDB target; Grafana's InfluxDB data source
    stores an InfluxQL annotation as ``target: {query, rawQuery, fromAnnotations, textColumn,
    tagsColumn}`` and reads the event text and tags from those columns."""

    def __init__(self, name: str, query: str, text_column: str,
                 tags_columns: Sequence[str], color: str) -> None:
        super().__init__(name=name, datasource=INFLUX, enable=True, hide=False,
                         icon_color=color)
        self.influx_target = {"refId": "Anno", "query": query, "rawQuery": True,
                              "resultFormat": "table", "fromAnnotations": True,
                              "textColumn": text_column, "tagsColumn": ",".join(tags_columns)}

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "target": self.influx_target}


class InfluxAnnotation(Builder[AnnotationQuery]):
    """An InfluxQL annotation (see :class:`_InfluxAnnotationQuery`)."""

    def __init__(self, name: str, query: str, text_column: str,
                 tags_columns: Sequence[str], color: str = "red") -> None:
        self._query = _InfluxAnnotationQuery(name, query, text_column, tags_columns, color)

    def build(self) -> AnnotationQuery:
        return self._query


def board(title: str, uid: str, description: str, panels: Sequence[Builder],
          variable_names: Sequence[str], variable_source: str = "carbon_intensity",
          time_from: str = "now-24h") -> dashboard.Dashboard:
    """The dashboard shell: fixed uid, tagged ``carbonline``, refreshed every minute (the
    finest window), UTC-independent (browser time), panels numbered 1… in order."""
    built = (dashboard.Dashboard(title).uid(uid).description(description)
             .tags(["carbonline"]).time(time_from, "now").timezone("browser").refresh("1m"))
    for variable in variables(variable_source, variable_names):
        built = built.with_variable(variable)
    for number, panel in enumerate(panels, 1):
        built = built.with_panel(panel.id(number))
    return built
