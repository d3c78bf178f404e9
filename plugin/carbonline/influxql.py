"""InfluxQL through the v1-compatible ``/query`` that InfluxDB 1.x, 2.x (through DBRP) and 3.x
all serve: one way to ask, and to read what went wrong, for the InfluxDB source, the
historian factor provider and discovery."""

from __future__ import annotations

import httpx

#: Statements that change state: InfluxDB 1.x refuses them over GET.
WRITE_VERBS = frozenset({"CREATE", "DROP", "DELETE", "ALTER", "GRANT", "REVOKE", "KILL", "SET"})


class InfluxQLError(OSError):
    """The server could not be reached or refused the statement; the message has its words."""


def query(http: httpx.Client, q: str, db: str | None = None, epoch: str | None = "ns") -> dict:
    """The first statement's result (``{"series": […]}``), times as integers in ``epoch``
    units (``None``: RFC 3339 text). State-changing statements go by POST."""
    params = {"q": q, **({"db": db} if db else {}), **({"epoch": epoch} if epoch else {})}
    verb = q.lstrip().split(None, 1)[0].upper()
    try:
        response = http.request("POST" if verb in WRITE_VERBS else "GET", "/query",
                                params=params)
    except httpx.HTTPError as exc:
        raise InfluxQLError(f"{http.base_url}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    errors = [r["error"] for r in body.get("results", []) if "error" in r]
    if response.status_code != 200 or errors or not body.get("results"):
        words = "; ".join(errors) or f"{response.status_code} {response.text.strip()}"
        raise InfluxQLError(f"{http.base_url}: {words}")
    return body["results"][0]


def identifier(name: str) -> str:
    """A measurement, field or tag name, double-quoted and escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    """A tag value, single-quoted and escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
