#!/bin/bash
# Run once by the influxdb:2.7 image after its first-start setup (org, bucket, admin token
# from DOCKER_INFLUXDB_INIT_*), with the influx CLI already pointed at the new server.
# Maps the v1 database name (= the bucket's name) to the bucket, so InfluxQL over /query
# reads it: Grafana's carbonline data source and carbonline's [sources.influx] poll speak
# InfluxQL (README, "Grafana").
set -euo pipefail
influx v1 dbrp create \
  --org-id "${DOCKER_INFLUXDB_INIT_ORG_ID}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
  --rp autogen \
  --default
