"""ESG exports: the emissions inventory sent to sustainability platforms.

Exporters are plugins of the ``carbonline_exporters`` hook (:mod:`carbonline.hookspecs`); the
built-ins are Salesforce Net Zero Cloud (:mod:`.salesforce`) and a generic webhook
(:mod:`.webhook`). They all take the same :class:`.model.Inventory`, read back from InfluxDB,
and a dry run writes exactly the bytes a push would send (:mod:`.base`).
"""
