"""The five carbonline dashboards as code (grafana-foundation-sdk), one module each, rendered by
:func:`build_all` into the JSON models committed in ``grafana_dashboards/``.

Every panel queries the one InfluxQL datasource by its fixed uid
(:data:`carbonline.grafana.datasource.DATASOURCE_UID`), so the same JSON works through
provisioning, UI import and ``grafana push``; the shared pieces are in :mod:`.panels`.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from . import fleet, health, line, plant, shift_sku

#: file name in grafana_dashboards/ → the module that builds it
DASHBOARDS = {
    "plant-overview.json": plant,
    "line-detail.json": line,
    "shift-sku-report.json": shift_sku,
    "fleet.json": fleet,
    "carbonline-health.json": health,
}


def build_all() -> dict[str, dict]:
    """Each dashboard's JSON model as plain data (the SDK's encoding, read back), by file
    name."""
    return {name: json.loads(json.dumps(module.build().build(), cls=JSONEncoder))
            for name, module in DASHBOARDS.items()}
