"""The one error the API's answers raise, whichever way the question came (HTTP or MQTT)."""

from __future__ import annotations


class ApiError(Exception):
    """A question the API cannot answer: ``status`` is the HTTP status (4xx: the asker's
    mistake or an unknown thing; 503: a server it needs is away) and ``reason`` says why in
    words a flow author can act on. HTTP answers ``{"detail": reason}`` with that status;
    MQTT answers ``{"status": status, "error": reason}``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
