#!/usr/bin/env bash
# Set up and pass the tests. The test fixtures install and start the real servers they need
# (InfluxDB, ...) on loopback when missing, so this is all a fresh Debian machine needs.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "test"
set +e
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" = 5 ]; then
  echo "no tests were collected: that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
