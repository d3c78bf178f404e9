#!/usr/bin/env bash
# Set up and run the demo: the simulated plant through the engine, no servers needed.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" ""
exec .venv/bin/carbonline demo "$@"
