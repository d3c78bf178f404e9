"""Bearer-token auth for the ``/api/v1`` routes (``[http] token``).

Only the API is guarded. ``/health`` and ``/metrics`` stay open because what scrapes them — a
Prometheus server, a container orchestrator's health probe, Node-RED's own watchdog — is
usually configured without secrets, and they reveal counts, not plant data. ``/write`` stays
open because an InfluxDB subscription cannot send a bearer token (restrict it by network).
"""

from __future__ import annotations

from collections.abc import Callable
from secrets import compare_digest

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

#: Tells a client which scheme to use, with a 401 (RFC 6750).
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_check(token: str) -> Callable[..., None]:
    """A FastAPI dependency that lets a request through only with ``Authorization: Bearer
    <token>``; 401 with the reason otherwise. Declared through ``HTTPBearer`` so the OpenAPI
    document names the security scheme."""
    scheme = HTTPBearer(auto_error=False, description="[http] token of the plant.toml")
    expected = token.encode()

    def check(credentials: HTTPAuthorizationCredentials | None = Depends(scheme)) -> None:
        if credentials is None:
            raise HTTPException(401, "this API needs 'Authorization: Bearer <token>' (the "
                                "[http] token of the plant.toml)", headers=CHALLENGE)
        if not compare_digest(credentials.credentials.encode(), expected):
            raise HTTPException(401, "the bearer token is not the configured [http] token",
                                headers=CHALLENGE)

    return check
