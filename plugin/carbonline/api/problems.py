"""The error answers every route documents in the OpenAPI document, so a client (and
schemathesis) knows each status a route can give and that its body is ``{"detail": reason}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    """Why a request was not answered, in words."""

    detail: str


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entry of a route for these error statuses."""
    words = {400: "a request that cannot be answered as asked: a body that does not parse, "
                  "a backwards range",
             401: "missing or wrong bearer token",
             404: "no such line or order",
             409: "not held in memory and no history store ([sinks.influx]) to look in",
             503: "a server the answer needs (InfluxDB, a factor provider) did not answer, "
                  "or the run is stopping"}
    return {status: {"model": Problem, "description": words[status]} for status in statuses}
