"""compose/: both stacks checked as Docker Compose would read them — there is no Docker engine
in the test suite, so nothing here starts a container. Each stack must follow the Compose
Specification's schema, mount only paths that exist, default every variable it uses the way
.env.example documents it, give Grafana, Node-RED and carbonline every variable their files
read, and agree with itself (database, token, the simulated plant carbonline is told about)."""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft7Validator

from carbonline.cli import main
from carbonline.simulate.files import plant_toml
from carbonline.simulate.model import layout
from deploy.compose_model import (COMPOSE, ROOT, STACKS, ComposeFile, references,
                                  value_references)

SCHEMA = json.loads((Path(__file__).parent / "compose-spec.json").read_text(encoding="utf-8"))
#: `NAME=value` lines of .env.example, each with the comment lines just above it.
_ENTRY = re.compile(r"((?:^#.*\n)+)^([A-Z_][A-Z0-9_]*)=(.*)$", re.MULTILINE)


def spec_errors(document: dict) -> list[str]:
    """What the Compose Specification's schema says is wrong with ``document``."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in Draft7Validator(SCHEMA).iter_errors(document)]


def documented() -> dict[str, str]:
    """.env.example as {name: default}; every entry must carry a comment."""
    text = (COMPOSE / ".env.example").read_text(encoding="utf-8")
    entries = {m.group(2): m.group(3) for m in _ENTRY.finditer(text)}
    assignments = re.findall(r"^([A-Z_][A-Z0-9_]*)=", text, re.MULTILINE)
    assert sorted(assignments) == sorted(entries), "every .env.example entry has a comment above"
    return entries


def test_stack_follows_the_compose_specification(stack: ComposeFile) -> None:
    assert spec_errors(stack.interpolated) == []


def test_the_schema_check_finds_mistakes(stack: ComposeFile) -> None:
    broken = copy.deepcopy(stack.interpolated)
    broken["services"]["mosquitto"]["prots"] = ["1883:1883"]
    broken["services"]["carbonline"]["depends_on"] = "influxdb"
    errors = spec_errors(broken)
    assert any("prots" in e for e in errors)
    assert any(e.startswith("services/carbonline/depends_on") for e in errors)


def test_images_are_pinned(stack: ComposeFile) -> None:
    for name in stack.interpolated["services"]:
        service = stack.service(name)
        if "build" in service:
            continue  # built here: the Dockerfile's own FROM is checked with it
        image = service["image"]
        assert re.search(r":\d+(\.\d+)+(-[\w.]+)?$", image), f"{name}: {image} is not pinned"
    influx = stack.service("influxdb")["image"]
    assert influx.startswith("influxdb:2.7." if "influxdb2" in stack.path.name
                             else "influxdb:1.8."), influx


def test_every_mounted_path_exists_and_is_read_only(stack: ComposeFile) -> None:
    for name in stack.interpolated["services"]:
        service = stack.service(name)
        for mount in stack.mounts(service):
            assert mount.source.exists(), f"{name}: {mount.source} is mounted but missing"
            assert mount.read_only, f"{name}: {mount.source} must be mounted :ro"
        build = service.get("build")
        if build:
            context = (stack.path.parent / build["context"]).resolve()
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name


def test_every_variable_has_its_documented_default() -> None:
    defaults = documented()
    used = set()
    for name in STACKS:
        for ref in ComposeFile(COMPOSE / name).references():
            used.add(ref.name)
            assert ref.operator == ":-", f"{name}: ${{{ref.name}}} needs a :-default"
            assert ref.name in defaults, f"{name}: {ref.name} is not in .env.example"
            assert ref.argument == defaults[ref.name], (
                f"{name}: {ref.name} defaults to {ref.argument!r}, .env.example says "
                f"{defaults[ref.name]!r}")
    assert sorted(set(defaults) - used) == [], ".env.example documents unused variables"


def test_a_lone_dollar_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text('services: {s: {image: "x:1.0", command: "echo $(date)"}}\n')
    with pytest.raises(ValueError, match="lone"):
        ComposeFile(broken).references()


def test_variable_references_are_found() -> None:
    found = list(references('a: "${A:-1}" b: $B c: $${NOT} d: ${D}'))
    assert [(r.name, r.operator, r.argument) for r in found] == [
        ("A", ":-", "1"), ("B", None, ""), ("D", None, "")]


def test_carbonline_config_passes_check_config(stack: ComposeFile,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    service = stack.service("carbonline")
    command = service["command"]
    config = command[command.index("--config") + 1]
    (mount,) = [m for m in stack.mounts(service) if m.target == config]
    environment = {k: str(v) for k, v in service["environment"].items()}
    wanted = {r.name for r in value_references(
        tomllib.loads(mount.source.read_text(encoding="utf-8")))}
    assert wanted <= set(environment), f"plant.toml reads {wanted - set(environment)} unset"
    for key in wanted:
        monkeypatch.delenv(key, raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["check-config", str(mount.source)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_carbonline_is_told_about_the_simulated_plant() -> None:
    stack = ComposeFile(COMPOSE / "docker-compose.yml")
    args = shlex.split(stack.service("simulator")["command"][0])
    assert args[:3] == ["exec", "carbonline", "simulate"]
    option = {args[i]: args[i + 1] for i in range(3, len(args) - 1) if args[i].startswith("--")}
    expected = tomllib.loads(plant_toml(
        layout(int(option["--lines"]), int(option["--machines"]), option["--site"]),
        Path("grid.csv"), option["--mqtt"]))
    service = stack.service("carbonline")
    (mount,) = [m for m in stack.mounts(service) if m.target.endswith("plant.toml")]
    ours = tomllib.loads(mount.source.read_text(encoding="utf-8"))
    assert ours["site"]["name"] == option["--site"]
    assert ours["sources"]["mqtt"]["url"] == expected["sources"]["mqtt"]["url"]
    for section in ("lines", "machines", "shared", "main_meter"):
        assert ours[section] == expected[section], section
    simulated = [{k: v for k, v in m.items() if k not in ("influx", "opcua")}
                 for m in expected["meters"]]
    assert ours["meters"] == simulated
    # plant time is wall-clock time, or Grafana's "last hours" would show nothing
    assert option["--speed"] == "1" and "$(date -u" in option["--start"]


def test_services_find_each_other_by_name(stack: ComposeFile) -> None:
    services = set(stack.interpolated["services"])
    for name in services:
        service = stack.service(name)
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for key, value in service.get("environment", {}).items():
            host = urlparse(str(value)).hostname if "://" in str(value) else None
            if host and not host.endswith(".example") and "." not in host:
                assert host in services, f"{name}: {key}={value} names no service"


def test_database_token_and_org_agree(stack: ComposeFile) -> None:
    influx = stack.service("influxdb")["environment"]
    carbonline = stack.service("carbonline")["environment"]
    grafana = stack.service("grafana")["environment"]
    nodered = stack.service("nodered")["environment"]
    database = influx.get("INFLUXDB_DB") or influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert carbonline["CARBONLINE_INFLUX_DATABASE"] == grafana["INFLUX_DB"] == database
    assert nodered["CARBONLINE_INFLUX_DATABASE"] == database
    assert carbonline["CARBONLINE_API_TOKEN"] == nodered["CARBONLINE_API_TOKEN"] != ""
    if "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN" in influx:
        token = influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
        assert carbonline["CARBONLINE_INFLUX_TOKEN"] == grafana["INFLUX_TOKEN"] == token
        assert nodered["CARBONLINE_INFLUX_TOKEN"] == token
        assert carbonline["CARBONLINE_INFLUX_ORG"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
        assert len(influx["DOCKER_INFLUXDB_INIT_PASSWORD"]) >= 8  # influx setup's minimum
    else:
        assert carbonline["CARBONLINE_INFLUX_TOKEN"] == ""  # 1.8 runs without auth here


def _provisioned(stack: ComposeFile) -> dict[str, Path]:
    """Grafana's provisioning files by their path in the container."""
    found = {}
    for mount in stack.mounts(stack.service("grafana")):
        if not mount.target.startswith("/etc/grafana/provisioning/"):
            continue
        if mount.source.is_file():
            found[mount.target] = mount.source
        else:
            found.update({f"{mount.target}/{p.relative_to(mount.source)}": p
                          for p in mount.source.rglob("*") if p.is_file()})
    return found


def test_grafana_gets_one_datasource_and_every_variable(stack: ComposeFile) -> None:
    files = _provisioned(stack)
    sources = [t for t in files if t.startswith("/etc/grafana/provisioning/datasources/")]
    assert len(sources) == 1, sources  # one datasource with uid carbonline-influxql
    (target,) = sources
    assert target.endswith(".yaml")  # Grafana ignores *.example
    assert ("influxdb2" in files[target].name) == ("influxdb2" in stack.path.name)
    datasource = yaml.safe_load(files[target].read_text())["datasources"][0]
    assert datasource["uid"] == "carbonline-influxql"
    environment = stack.service("grafana")["environment"]
    for path in files.values():
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "groups" in document:
            continue  # rule queries and annotations are not interpolated (grafana#82774)
        for ref in value_references(document):
            assert ref.name in environment, f"{path.name} reads {ref.name}: not set"
            if "contact-points" in path.name:  # Grafana refuses an empty address or URL
                assert str(environment[ref.name]), ref.name


def test_grafana_loads_every_dashboard(stack: ComposeFile) -> None:
    files = _provisioned(stack)
    (provider,) = [p for t, p in files.items() if "/provisioning/dashboards/" in t]
    folder = yaml.safe_load(provider.read_text())["providers"][0]["options"]["path"]
    (mount,) = [m for m in stack.mounts(stack.service("grafana")) if m.target == folder]
    dashboards = sorted(p.name for p in (ROOT / "grafana_dashboards").glob("*.json"))
    assert dashboards and sorted(p.name for p in mount.source.glob("*.json")) == dashboards
    home = stack.service("grafana")["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(folder + "/") and Path(home).name in dashboards


def test_influxdb2_setup_creates_the_dbrp_mapping() -> None:
    stack = ComposeFile(COMPOSE / "docker-compose.influxdb2.yml")
    (mount,) = [m for m in stack.mounts(stack.service("influxdb"))
                if m.target.startswith("/docker-entrypoint-initdb.d/")]
    # the image runs executable *.sh files there (run-parts), after `influx setup`
    assert mount.target.endswith(".sh") and mount.source.stat().st_mode & 0o111
    subprocess.run(["bash", "-n", str(mount.source)], check=True)
    script = re.sub(r"^#.*$", "", mount.source.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert "influx v1 dbrp create" in script
    # set by the image's entrypoint for these scripts (influxdata-docker influxdb/2.7/
    # entrypoint.sh, set_init_resource_ids) or by this stack
    exported = {"DOCKER_INFLUXDB_INIT_ORG_ID", "DOCKER_INFLUXDB_INIT_BUCKET_ID"}
    available = exported | set(stack.service("influxdb")["environment"])
    assert {r.name for r in references(script)} <= available


def _container_ports(service: dict) -> set[int]:
    """The container side of a service's published ports (``[ip:]host:container``)."""
    return {int(str(p).rsplit(":", 1)[1]) for p in service.get("ports", [])}


def test_ports_agree(stack: ComposeFile) -> None:
    carbonline = stack.service("carbonline")
    (mount,) = [m for m in stack.mounts(carbonline) if m.target.endswith("plant.toml")]
    listen = tomllib.loads(mount.source.read_text(encoding="utf-8"))["http"]["listen"]
    host, port = listen.rsplit(":", 1)
    assert host == "0.0.0.0"  # reachable from the other containers
    assert _container_ports(carbonline) == {int(port)}
    assert port in " ".join(carbonline["healthcheck"]["test"])
    api = urlparse(stack.service("nodered")["environment"]["CARBONLINE_API_URL"])
    assert (api.hostname, api.port) == ("carbonline", int(port))
    deploy = stack.service("flows")["command"]
    nodered = urlparse(deploy[deploy.index("--url") + 1])
    assert nodered.port in _container_ports(stack.service("nodered"))
    assert _container_ports(stack.service("grafana")) == {3000}
