"""The HTTP app ``carbonline run`` serves: FastAPI, so the OpenAPI document (``/docs``,
``/openapi.json``) comes from the code.

- ``/api/v1/…``: the API (:mod:`.ingest`, :mod:`.intensity`, :mod:`.footprint`,
  :mod:`.alerts`), behind the bearer token when ``[http] token`` is set (:mod:`.auth`);
- ``/health`` (the newest ``carbonline_health`` rows as JSON) and ``/metrics`` (the same for
  Prometheus), open;
- whatever routers the sources bring: the InfluxDB subscription's ``/write``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from .. import __version__
from ..records import HealthRow
from ..series import as_json
from . import alerts, footprint, intensity, metrics
from .auth import bearer_check
from .context import ApiContext
from .errors import ApiError


def create_app(routers: Sequence[APIRouter], health: Callable[[], list[HealthRow]],
               api: ApiContext | None = None, token: str | None = None) -> FastAPI:
    """The app: the sources' ``routers`` (an ``/api/v1/…`` one, the HTTP readings source's,
    is guarded like the rest of the API), ``/health`` and ``/metrics`` answered from
    ``health``, and with ``api`` the API's own routes."""
    app = FastAPI(title="carbonline", version=__version__,
                  description="Live CO₂e per unit produced, per line, SKU and shift.")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)

    @app.get("/health", summary="What each component has counted since the run started",
             tags=["health"])
    def get_health() -> list[dict]:
        return [as_json(row) for row in health()]

    app.include_router(metrics.router(health))
    guard = [Depends(bearer_check(token))] if token else []
    own = [m.router(api) for m in (intensity, footprint, alerts)] if api is not None else []
    for router in [*routers, *own]:
        guarded = any(getattr(r, "path", "").startswith("/api/") for r in router.routes)
        app.include_router(router, dependencies=guard if guarded else [])
    return app
