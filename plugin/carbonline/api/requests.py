"""MQTT request/response: the HTTP API's questions for flows that prefer MQTT.

A request is a JSON object ``{"method": …, "params": {…}}`` published on the request topic
(default ``carbonline/<site>/request/#``); :func:`answer` gives the response, which the MQTT
publisher (:mod:`carbonline.sinks.mqtt`) sends back on the request's MQTT 5 Response Topic
with its Correlation Data — or, for an MQTT 3.1.1 client, to
``carbonline/<site>/response/<correlation_id>`` when the request holds ``"correlation_id"``.

- ``intensity``, params ``{"line"}`` (none: every line): as ``GET /api/v1/lines`` or
  ``GET /api/v1/lines/{line}/intensity``;
- ``order``, ``{"order_id"}``: as ``GET /api/v1/orders/{order_id}``;
- ``footprint``, ``{"from", "to", "line"?, "sku"?}``: as ``GET /api/v1/footprint``;
- ``alerts``, ``{}``: as ``GET /api/v1/alerts``.

The response is ``{"status": 200, "method", "body"}`` or ``{"status": 4xx|503, "error":
reason}`` (the HTTP status the same question gets over HTTP), with ``"correlation_id"``
repeated when the request had one. Each answer is the same function the HTTP route calls, so
the two cannot drift apart. Who may ask is the broker's ACL's business (the HTTP token does
not apply).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import to_jsonable_python

from .alerts import open_alerts
from .context import ApiContext
from .errors import ApiError
from .footprint import PeriodQuery, order_footprint, period_footprint
from .intensity import line_intensity, lines_intensity


class Request(BaseModel):
    """A request's envelope; ``params`` are checked by the method's own model."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["intensity", "order", "footprint", "alerts"]
    params: dict[str, Any] = {}
    correlation_id: str | None = None


class _LineParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: str | None = None


class _OrderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _intensity(ctx: ApiContext, params: dict) -> object:
    line = _LineParams.model_validate(params).line
    return lines_intensity(ctx) if line is None else line_intensity(ctx, line)


def _order(ctx: ApiContext, params: dict) -> object:
    return order_footprint(ctx, _OrderParams.model_validate(params).order_id)


def _footprint(ctx: ApiContext, params: dict) -> object:
    return period_footprint(ctx, PeriodQuery.model_validate(params))


def _alerts(ctx: ApiContext, params: dict) -> object:
    _NoParams.model_validate(params)
    return open_alerts(ctx)


METHODS: dict[str, Callable[[ApiContext, dict], object]] = {
    "intensity": _intensity, "order": _order, "footprint": _footprint, "alerts": _alerts}


def answer(ctx: ApiContext, payload: bytes) -> dict[str, Any]:
    """The response to one request payload; never raises for a bad request."""
    response: dict[str, Any] = {}
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return {"status": 400, "error": f"the request is not JSON: {exc}"}
    if isinstance(document, dict) and isinstance(document.get("correlation_id"), str):
        response["correlation_id"] = document["correlation_id"]
    try:
        request = Request.model_validate(document)
        response["method"] = request.method
        body = METHODS[request.method](ctx, request.params)
    except ValidationError as exc:
        return {**response, "status": 400, "error": _words(exc)}
    except ApiError as exc:
        return {**response, "status": exc.status, "error": exc.reason}
    return {**response, "status": 200, "body": to_jsonable_python(body)}


def _words(exc: ValidationError) -> str:
    """pydantic's errors as ``key: problem`` phrases."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}"
                     for e in exc.errors())
