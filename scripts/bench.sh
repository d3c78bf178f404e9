#!/usr/bin/env bash
# Set up and run the benchmark: carbonline against a pandas peer on 10M generated readings.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "bench"
exec .venv/bin/python -m benchmarks.run "$@"
