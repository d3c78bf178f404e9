"""Grafana artefacts as code: dashboards, alert rules and provisioning files, generated into
``grafana_dashboards/`` (committed, so a plant imports them without Python), and ``grafana push``
for a plant that prefers one command to copying files."""
