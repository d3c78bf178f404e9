#!/usr/bin/env bash
# Set up and run the benchmarks: carbonline against a pandas peer on 10M generated readings
# (options go to it), then live from Mosquitto into InfluxDB against a Node-RED function node.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "bench"
.venv/bin/python -m benchmarks.run "$@"
exec .venv/bin/python -m benchmarks.live
