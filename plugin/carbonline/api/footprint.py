"""The footprint of an order or a period: kg CO₂e, good units, kg CO₂e per unit, the Scope 1 /
Scope 2 location / Scope 2 market split, kWh and where the grid factors came from.

- ``GET /api/v1/orders/{order_id}``: from the ``carbon_order`` rows the engine emitted when the
  order ended — held in memory for the newest orders, otherwise read from the history store.
- ``GET /api/v1/footprint?from=&to=[&line=][&sku=]``: the ``1m`` windows starting in the
  period, summed by InfluxDB.

Intensity is Σ kg CO₂e / Σ good units (:mod:`.totals`). The factor provenance is what the
factor providers (the ``carbonline_emission_factors`` hook the engine asks) say for the span,
per basis.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ..influxql import InfluxQLError
from ..records import to_ns
from ..series import rfc3339
from .context import ApiContext
from .errors import ApiError
from .history import History
from .problems import problems
from .totals import Piece, Totals, names, piece_of, totals_of
from .view import MAX_ORDERS

#: The times InfluxDB can store (signed 64-bit ns): a period outside them is a bad request.
MIN_NS, MAX_NS = -(2**63) + 2, 2**63 - 2


class FactorSource(BaseModel):
    """One basis's grid factor provenance for the span (GHG Protocol Scope 2)."""

    basis: Literal["location", "market"]
    zone: str
    provider: str = Field(description="the factor provider that answered")
    dataset: str = Field(description="document or dataset, name and version")
    type: str = Field(description="direct, lifecycle, marginal or unknown")
    year: int | None
    estimated: bool


class Footprint(Totals):
    """An order's or a period's carbon footprint."""

    site: str
    order_id: str | None = None
    start: str = Field(description="RFC 3339: the order's (or period's) start")
    end: str = Field(description="RFC 3339: its end (exclusive)")
    lines: list[str]
    skus: list[str]
    factors: list[FactorSource]
    source: Literal["memory", "influxdb"] = Field(
        description="memory: the rows this run emitted; influxdb: read from the history store")


class PeriodQuery(BaseModel):
    """A period's footprint, optionally of one line and/or one SKU. Times are RFC 3339 (a
    time without offset is in the site's zone) or epoch seconds."""

    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from", description="period start (inclusive)")
    to: datetime = Field(description="period end (exclusive)")
    line: str | None = None
    sku: str | None = None


def order_footprint(ctx: ApiContext, order_id: str) -> Footprint:
    """An order's footprint; 404 when unknown, 409 when not in memory and no history store."""
    rows = ctx.view.order(order_id)
    if rows:
        return _footprint(ctx, [piece_of(r) for r in rows], "memory", order_id)
    if ctx.history is None:
        raise ApiError(409, f"order {order_id!r} is not among the {MAX_ORDERS} newest orders "
                       "this run has finished, and no history store ([sinks.influx]) is "
                       "configured to look further back")
    pieces = _asked(ctx.history, lambda h: h.order(order_id))
    if not pieces:
        raise ApiError(404, f"no finished order {order_id!r} (an order is written when the "
                       "next one starts on its line)")
    return _footprint(ctx, pieces, "influxdb", order_id)


def period_footprint(ctx: ApiContext, period: PeriodQuery) -> Footprint:
    """A period's footprint from the history store; 400 for a bad range, 404 for an unknown
    line, 409 without a history store."""
    zone = ZoneInfo(ctx.plant.config.site.timezone)
    try:
        start, end = (to_ns(t if t.tzinfo else t.replace(tzinfo=zone))
                      for t in (period.start, period.to))
    except (OverflowError, ValueError):  # year 1 or 9999 moved out of range by the offset
        start, end = 0, 0
    if not MIN_NS <= start < end <= MAX_NS:
        raise ApiError(400, "'from' must be before 'to', both between 1677 and 2262 (the "
                       "times InfluxDB stores)")
    if period.line is not None and period.line not in ctx.plant.lines:
        raise ApiError(404, f"no line {period.line!r} in this plant")
    if ctx.history is None:
        raise ApiError(409, "a period's footprint is read from the history store, and no "
                       "[sinks.influx] is configured")
    pieces = _asked(ctx.history, lambda h: h.period(start, end, period.line, period.sku))
    return _footprint(ctx, pieces, "influxdb", None, (start, end))


_T = TypeVar("_T")


def _asked(history: History, ask: Callable[[History], _T]) -> _T:
    try:
        return ask(history)
    except InfluxQLError as exc:
        raise ApiError(503, f"the history store did not answer: {exc}") from None


def _footprint(ctx: ApiContext, pieces: list[Piece], source: Literal["memory", "influxdb"],
               order_id: str | None, span: tuple[int, int] | None = None) -> Footprint:
    start, end = span or (min(p.start for p in pieces), max(p.end for p in pieces))
    return Footprint(**totals_of(pieces).model_dump(), site=ctx.plant.site, order_id=order_id,
                     start=rfc3339(start), end=rfc3339(end), lines=names(pieces, "line"),
                     skus=names(pieces, "sku"), factors=provenance(ctx, start, end),
                     source=source)


def provenance(ctx: ApiContext, start: int, end: int) -> list[FactorSource]:
    """Each basis's factor provenance over ``[start, end)`` from the factor providers."""
    zone = ctx.plant.config.site.grid_zone
    found = []
    for basis in ("location", "market"):
        try:
            series = ctx.pm.hook.carbonline_emission_factors(
                plant=ctx.plant, zone=zone, start=start, end=max(end, start + 1), basis=basis)
        except (OSError, ValueError) as exc:
            raise ApiError(503, f"the {basis}-based factor provider for zone {zone!r} did not "
                           f"answer: {exc}") from None
        if series is not None:
            p = series.provenance
            found.append(FactorSource(basis=basis, zone=series.zone, provider=p.provider,
                                      dataset=p.dataset, type=p.type, year=p.year,
                                      estimated=p.estimated))
    return found


def router(ctx: ApiContext) -> APIRouter:
    """``/api/v1/orders/{order_id}`` and ``/api/v1/footprint``."""
    api = APIRouter(prefix="/api/v1", tags=["footprint"])

    @api.get("/orders/{order_id}", response_model=Footprint,
             responses=problems(401, 404, 409, 503),
             summary="A finished order's footprint (kg CO₂e, per unit, scopes, provenance)")
    def get_order(order_id: str) -> Footprint:
        return order_footprint(ctx, order_id)

    @api.get("/footprint", response_model=Footprint,
             responses=problems(400, 401, 404, 409, 503),
             summary="A period's footprint from the 1m windows in the history store")
    def get_footprint(period: Annotated[PeriodQuery, Query()]) -> Footprint:
        return period_footprint(ctx, period)

    return api
