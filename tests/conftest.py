"""Fixtures for every test directory: the real servers the tests talk to (``tests/servers``).

``tests`` is on the path (``pythonpath`` in pyproject.toml), so any test, in any subdirectory,
can ask for ``influxdb``, ``influx_db``, ``mosquitto``, ``victoria``, ``opcua_server`` or ``nodered`` by name.
"""

pytest_plugins = ["servers.influxdb", "servers.mosquitto", "servers.victoria", "servers.opcua",
                  "servers.nodered", "servers.grafana_stub"]
