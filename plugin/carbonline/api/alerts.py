"""``GET /api/v1/alerts``: the alerts open now — a ``carbon_alert`` the analyser sent as
``firing`` and has not resolved yet — as it emitted them (:func:`carbonline.series.as_json`:
``alert_id``, ``line``, ``severity``, ``cause``, ``machine``, kg CO₂e/unit figures,
``message``). Held in memory: after a restart the analyser learns its baselines again and
alerts open anew."""

from __future__ import annotations

from fastapi import APIRouter

from ..series import as_json
from .context import ApiContext
from .intensity import SeriesRow
from .problems import problems


def open_alerts(ctx: ApiContext) -> list[SeriesRow]:
    """The open alerts, oldest first."""
    return [as_json(row) for row in ctx.view.open_alerts()]


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["alerts"])

    @api.get("/alerts", response_model=list[SeriesRow], responses=problems(401),
             summary="Open alerts (firing, not resolved yet)")
    def get_alerts() -> list[SeriesRow]:
        return open_alerts(ctx)

    return api
