"""The HTTP endpoint an InfluxDB 1.x subscription posts to, as a FastAPI router that
``carbonline run`` mounts on its app. Kept apart from :mod:`.influx` so that FastAPI is only
imported when a subscription is configured."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response

if TYPE_CHECKING:
    from .influx import InfluxSubscription


def subscription_router(source: InfluxSubscription) -> APIRouter:
    """``POST /write?db=&rp=&precision=``, answered 204 as InfluxDB's own ``/write`` is."""
    router = APIRouter()

    async def write(request: Request, precision: str = "ns") -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        source.receive(body, precision)
        return Response(status_code=204)

    router.add_api_route("/write", write, methods=["POST"], status_code=204,
                         summary="InfluxDB subscription endpoint (line protocol)")
    return router
