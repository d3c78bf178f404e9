"""A line's current carbon intensity: ``GET /api/v1/lines`` and
``GET /api/v1/lines/{line}/intensity``.

Per line × SKU, the newest *closed* ``1m`` and ``15m`` windows, exactly as written to InfluxDB
and MQTT (``carbon_intensity`` fields, :func:`carbonline.series.as_json`: kWh, kg CO₂e,
kg CO₂e/unit), and the shift running now summed from its closed minutes (Σ kg / Σ units). A
line that has closed no window yet answers with no windows; a line the plant does not have
is a 404.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..series import as_json, rfc3339
from .context import ApiContext
from .errors import ApiError
from .problems import problems
from .totals import Totals, piece_of, totals_of

#: A ``carbon_intensity`` row as JSON: ``time``, tags and fields (design brief §3).
SeriesRow = dict[str, float | int | bool | str]


class ShiftSoFar(Totals):
    """The shift running now, summed over its closed 1-minute windows."""

    shift: str
    start: str = Field(description="RFC 3339: the first closed minute's start")
    end: str = Field(description="RFC 3339: the last closed minute's end")


class LineIntensity(BaseModel):
    """A line's newest closed windows per SKU and its shift so far."""

    site: str
    line: str
    windows: list[SeriesRow] = Field(
        description="the newest closed 1m and 15m carbon_intensity row of each SKU")
    shift: ShiftSoFar | None = Field(
        description="null without a shift calendar or before the shift's first minute closed")


def line_intensity(ctx: ApiContext, line: str) -> LineIntensity:
    """One line's intensity; 404 for a line the plant does not have."""
    if line not in ctx.plant.lines:
        raise ApiError(404, f"no line {line!r} in this plant (lines: "
                       f"{', '.join(ctx.plant.lines)})")
    name, minutes = ctx.view.shift(line)
    shift = None
    if minutes:
        shift = ShiftSoFar(**totals_of(piece_of(r) for r in minutes).model_dump(), shift=name,
                           start=rfc3339(minutes[0].window.start),
                           end=rfc3339(max(r.window.end for r in minutes)))
    return LineIntensity(site=ctx.plant.site, line=line,
                         windows=[as_json(r) for r in ctx.view.latest(line)], shift=shift)


def lines_intensity(ctx: ApiContext) -> list[LineIntensity]:
    """Every line's intensity, in the plant's order."""
    return [line_intensity(ctx, line) for line in ctx.plant.lines]


def router(ctx: ApiContext) -> APIRouter:
    """``/api/v1/lines`` and ``/api/v1/lines/{line}/intensity``."""
    api = APIRouter(prefix="/api/v1", tags=["intensity"])

    @api.get("/lines", response_model=list[LineIntensity], responses=problems(401),
             summary="Every line's newest closed windows and shift so far")
    def get_lines() -> list[LineIntensity]:
        return lines_intensity(ctx)

    @api.get("/lines/{line}/intensity", response_model=LineIntensity,
             responses=problems(401, 404),
             summary="A line's newest closed 1m/15m windows per SKU and its shift so far")
    def get_line(line: str) -> LineIntensity:
        return line_intensity(ctx, line)

    return api
