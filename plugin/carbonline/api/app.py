"""The HTTP app ``carbonline run`` serves: FastAPI, so the OpenAPI document (``/docs``,
``/openapi.json``) comes from the code.

It holds ``/health`` (the latest ``carbonline_health`` rows as JSON) and whatever routers the
sources bring — the InfluxDB subscription's ``/write`` is one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI

from .. import __version__
from ..records import HealthRow
from ..series import as_json


def create_app(routers: Sequence[APIRouter], health: Callable[[], list[HealthRow]]) -> FastAPI:
    """The app, with the sources' ``routers`` mounted and ``/health`` answered by ``health``."""
    app = FastAPI(title="carbonline", version=__version__,
                  description="Live CO₂e per unit produced, per line, SKU and shift.")

    @app.get("/health", summary="What each component has counted since the run started")
    def get_health() -> list[dict]:
        return [as_json(row) for row in health()]

    for router in routers:
        app.include_router(router)
    return app
