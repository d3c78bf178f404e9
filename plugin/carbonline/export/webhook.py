"""A generic webhook: the GHG Protocol inventory as one JSON document, POSTed to a URL.

For platforms without a carbonline exporter (an ESG data lake, a Node-RED flow, an iPaaS).
The document is ``carbonline report``'s ``ghg.json`` tables (lines with both Scope 2 methods,
sites, SKUs, Scope 1 by fuel and gas, data quality, factors, site-local days) under
``"schema": "carbonline.inventory/1"``; its shape is published as a JSON Schema beside this
module (``webhook.schema.json``). A dry run writes ``inventory.json``; a push sends those bytes
with the configured headers and takes any 2xx as delivered.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from ..config import PlantConfig
from ..plugins import hookimpl
from ..report.model import Inventory
from ..report.tables import ghg_tables, period_dict
from .base import ExportError, Prepared

SCHEMA = "carbonline.inventory/1"
SCHEMA_FILE = Path(__file__).with_name("webhook.schema.json")
PAYLOAD = "inventory.json"


def payload(inventory: Inventory, config: PlantConfig) -> dict:
    """The inventory as a ``carbonline.inventory/1`` document (see ``webhook.schema.json``)."""
    return {"schema": SCHEMA, "site": config.site.name, "period": period_dict(inventory.period),
            "revision": inventory.revision, "gwp_set": inventory.gwp_set,
            "notes": inventory.notes, **ghg_tables(inventory)}


class WebhookExporter:
    """``carbonline export webhook``: see the module docstring."""

    name = "webhook"
    description = f"the GHG inventory as JSON (schema {SCHEMA}) POSTed to a URL"

    def prepare(self, inventory: Inventory, config: PlantConfig) -> Prepared:
        body = json.dumps(payload(inventory, config), indent=1, default=str,
                          ensure_ascii=False) + "\n"
        return Prepared({PAYLOAD: body.encode("utf-8")}, (PAYLOAD,))

    def push(self, prepared: Prepared, config: PlantConfig) -> list[str]:
        settings = config.export.webhook
        if settings is None:
            raise ExportError("plant.toml: [export.webhook] url is needed for a push")
        headers = {"Content-Type": "application/json", **settings.headers}
        try:
            response = httpx.post(settings.url, content=prepared.files[PAYLOAD],
                                  headers=headers, timeout=settings.timeout)
        except httpx.HTTPError as exc:
            raise ExportError(f"{settings.url}: {exc}") from None
        if not response.is_success:
            raise ExportError(f"{settings.url}: HTTP {response.status_code} "
                              f"{response.text.strip()[:500]}")
        return [f"{PAYLOAD}: delivered to {settings.url} (HTTP {response.status_code})"]


@hookimpl
def carbonline_exporters(config: PlantConfig | None) -> list:
    return [WebhookExporter()]
