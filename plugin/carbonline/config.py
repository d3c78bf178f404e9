"""``plant.toml``: the one configuration file, validated at load so the engine never sees a bad value.

The file describes the plant in the plant's own words: the site, its shift calendar, lines and
their production unit, machines, shared utilities and how they are allocated, an optional site
main meter, and every meter with its role and *where its value lives* in the plant's own naming
(an InfluxDB measurement/field/tags, an MQTT topic and JSON path, an OPC UA node id, a CSV
column). Nothing in the plant has to be renamed for carbonline.

:func:`load_config` returns a :class:`PlantConfig` or raises :class:`ConfigError` whose message
names the file, the key and what is wrong, e.g.
``plant.toml: meters[3].machine: 'filler9' is not a machine (known: filler1, filler2)``.
Secrets are written as ``${ENV_NAME}`` and expanded from the environment at load.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .factors.fuels import unit_factors
from .factors.tables import check_zone, grid_tables

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> float:
    """Seconds from ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '15m', not a boolean")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError(f"{value!r} is not a duration: write e.g. '30s', '15m', '8h' or '1d'")


Seconds = Annotated[float, BeforeValidator(parse_duration)]
"""A duration in seconds, written in the file as ``"15m"``-style text or a number of seconds."""


class ConfigError(Exception):
    """A plant.toml that cannot be used; the message names file, key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- where a meter's value lives -------------------------------------------------------------


class InfluxMapping(_Strict):
    """A value in a historian: the point's measurement, tags to match, and the field (or tag)."""

    measurement: str
    field: str | None = None
    tag: str | None = Field(None, description="take the value from this tag (context meters)")
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _field_or_tag(self) -> InfluxMapping:
        if (self.field is None) == (self.tag is None):
            raise ValueError("give exactly one of 'field' or 'tag'")
        return self


class MqttMapping(_Strict):
    """A value on a broker: topic (wildcards allowed) and where in a JSON payload it sits."""

    topic: str
    path: str | None = Field(None, description="dotted path into a JSON payload; none = plain")
    time_path: str | None = Field(None, description="dotted path to the reading's own timestamp")


class OpcuaMapping(_Strict):
    """A value on an OPC UA server: the node id, e.g. ``ns=2;s=Line1.Filler.Energy``."""

    node: str


class CsvMapping(_Strict):
    """A value in a wide CSV file: the column holding it."""

    column: str


# --- meters ----------------------------------------------------------------------------------

Role = Literal[
    "energy_counter",  # cumulative electricity, kWh or Wh
    "interval_energy",  # electricity per interval, kWh or Wh
    "power",  # electric power, kW or W, integrated over time
    "fuel_counter",  # cumulative fuel, in the fuel's unit (Scope 1)
    "units_counter",  # cumulative good units
    "total_counter",  # cumulative units including scrap (optional, for quality rate)
    "scrap_counter",  # cumulative scrap units (optional)
    "sku",  # the SKU/recipe running on a line (text)
    "order",  # the production order running on a line (text)
]

ENERGY_ROLES = frozenset({"energy_counter", "interval_energy", "power"})
COUNTER_ROLES = frozenset(
    {"energy_counter", "fuel_counter", "units_counter", "total_counter", "scrap_counter"}
)
UNIT_ROLES = frozenset({"units_counter", "total_counter", "scrap_counter"})
CONTEXT_ROLES = frozenset({"sku", "order"})

#: The units each role accepts, with the factor to the engine's internal unit (kWh, kW, units).
ROLE_UNITS: dict[str, dict[str, float]] = {
    "energy_counter": {"kWh": 1.0, "Wh": 0.001, "MWh": 1000.0},
    "interval_energy": {"kWh": 1.0, "Wh": 0.001, "MWh": 1000.0},
    "power": {"kW": 1.0, "W": 0.001, "MW": 1000.0},
    "units_counter": {"units": 1.0},
    "total_counter": {"units": 1.0},
    "scrap_counter": {"units": 1.0},
    "sku": {"": 1.0},
    "order": {"": 1.0},
}


class Meter(_Strict):
    """One meter or signal, its role, what it belongs to and where its value lives."""

    id: str
    role: Role
    machine: str | None = Field(None, description="energy and fuel meters: the machine metered")
    line: str | None = Field(None, description="unit counters and context: the line")
    unit: str = Field("", description="kWh, Wh, kW, W, a fuel's unit, or 'units'")
    fuel: str | None = Field(None, description="fuel counters: a key of [fuels]")
    rollover: float | None = Field(None, gt=0, description="counters: value at which it wraps to 0")
    interval: Seconds | None = Field(None, description="interval energy: the interval length")
    label: Literal["start", "end"] = Field(
        "end", description="interval energy: the timestamp marks the interval's start or end"
    )
    max_gap: Seconds = Field(
        300, description="power: samples further apart are not bridged (lowers coverage)"
    )
    influx: InfluxMapping | None = None
    mqtt: MqttMapping | None = None
    opcua: OpcuaMapping | None = None
    csv: CsvMapping | None = None

    @model_validator(mode="after")
    def _role_fields(self) -> Meter:
        metered = self.role in ENERGY_ROLES or self.role == "fuel_counter"
        if self.role == "fuel_counter" and not self.machine:
            raise ValueError("a fuel_counter meter needs 'machine'")
        if metered and self.line:
            raise ValueError(f"a {self.role} meter names its 'machine', not a 'line'")
        if not metered and not self.line:
            raise ValueError(f"a {self.role} meter needs 'line'")
        if self.role == "fuel_counter":
            if not self.fuel:
                raise ValueError("a fuel_counter meter needs 'fuel' (a key of [fuels])")
        elif self.role in CONTEXT_ROLES:
            if self.unit:
                raise ValueError(f"a {self.role} meter carries text and takes no 'unit'")
        else:
            allowed = ROLE_UNITS[self.role]
            unit = self.unit or ("units" if self.role in UNIT_ROLES else "")
            if unit not in allowed:
                raise ValueError(
                    f"unit {self.unit!r} does not fit role {self.role} (use one of "
                    f"{', '.join(sorted(allowed))})"
                )
        if self.role == "interval_energy" and self.interval is None:
            raise ValueError("an interval_energy meter needs 'interval', e.g. '15m'")
        return self

    @property
    def scale(self) -> float:
        """Factor from the meter's unit to kWh, kW or units (fuel meters: 1, in fuel units)."""
        if self.role == "fuel_counter" or self.role in CONTEXT_ROLES:
            return 1.0
        unit = self.unit or "units"
        return ROLE_UNITS[self.role][unit]


# --- the plant -------------------------------------------------------------------------------


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone such as 'Europe/Berlin'") from None
    return name


class Site(_Strict):
    name: str
    timezone: Annotated[str, BeforeValidator(_check_timezone)] = "UTC"
    grid_zone: Annotated[str, BeforeValidator(check_zone)] = Field(
        description="ISO 3166-1 alpha-2, US-XX or a bidding zone (SE-SE3)")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Shift(_Strict):
    """A named shift in site-local time; ``end`` before ``start`` means it runs past midnight."""

    name: str
    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
            hours, minutes = value.split(":")
            return time(int(hours), int(minutes))
        return value


class ShiftCalendar(_Strict):
    """Named shifts, the weekdays off and dated holidays (site-local)."""

    shifts: list[Shift] = Field(default_factory=list)
    days_off: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=list
    )
    holidays: list[str] = Field(default_factory=list, description="ISO dates, e.g. 2026-12-25")


class Line(_Strict):
    id: str
    unit: str = Field("pieces", description="production unit: pieces, cases, kg, t, m2…")
    threshold_co2e_per_unit_kg: float | None = Field(None, gt=0)


class Machine(_Strict):
    """A machine. ``line`` is its own line; a shared utility has no line and an allocation."""

    id: str
    line: str | None = None


class _Shared(_Strict):
    """An allocation key with optional fixed shares (validated the same way everywhere)."""

    key: Literal["units", "runtime", "fixed"] = "units"
    shares: dict[str, float] | None = None

    @model_validator(mode="after")
    def _valid_shares(self) -> _Shared:
        if self.key == "fixed" and not self.shares:
            raise ValueError("key 'fixed' needs 'shares', e.g. {line1 = 0.6, line2 = 0.4}")
        if self.shares is not None:
            if any(v < 0 for v in self.shares.values()) or sum(self.shares.values()) <= 0:
                raise ValueError("shares must be non-negative and not all zero")
        return self


class Allocation(_Shared):
    """How a shared machine's energy is split across the lines it serves.

    ``units``: by good units made in each base interval; ``runtime``: by time each line was
    producing; ``fixed``: by ``shares``. Where the key is zero in an interval (no line made
    anything), ``shares`` is used, and equal shares when none are given, so energy is never lost.
    """

    machine: str
    lines: list[str]

    @model_validator(mode="after")
    def _shares_of_served_lines(self) -> Allocation:
        unknown = set(self.shares or {}) - set(self.lines)
        if unknown:
            raise ValueError(f"shares name lines not in 'lines': {sorted(unknown)}")
        return self


class MainMeter(_Shared):
    """The site/main electricity meter; its excess over the sub-meters is the unmetered load,
    allocated to all lines by ``key``."""

    meter: str


class Fuel(_Strict):
    """A Scope 1 fuel as metered: its unit, net calorific value and emission factor.

    Either value left out is taken from the IPCC 2006 defaults for the fuel named by the
    ``[fuels.<name>]`` key (natural_gas, diesel, lpg, fuel_oil …; see
    :mod:`carbonline.factors.fuels`) with the ``[factors] gwp`` set.
    """

    unit: Literal["m3", "L", "kg", "kWh"]
    ncv_kwh_per_unit: float | None = Field(
        None, gt=0, description="net calorific value, kWh per fuel unit")
    co2e_kg_per_unit: float | None = Field(None, ge=0, description="kg CO₂e per fuel unit")

    def factors(self, name: str, gwp: str) -> tuple[float, float]:
        """(kWh, kg CO₂e) per metered unit: as configured, else the IPCC 2006 defaults."""
        if self.ncv_kwh_per_unit is not None and self.co2e_kg_per_unit is not None:
            return self.ncv_kwh_per_unit, self.co2e_kg_per_unit
        default = unit_factors(name, self.unit, gwp)
        return (self.ncv_kwh_per_unit or default.energy_kwh,
                default.co2e_kg if self.co2e_kg_per_unit is None else self.co2e_kg_per_unit)


# --- where carbonline connects: the plant's broker, PLC and historian, and where it writes ---


class Tls(_Strict):
    """TLS for a connection: the CA that signed the server's certificate and, for mutual TLS,
    this client's certificate and key (PEM files). ``insecure`` skips the host-name check (a
    PLC with a self-signed certificate on an IP address), never the chain."""

    ca: str | None = None
    certificate: str | None = None
    private_key: str | None = None
    insecure: bool = False


class MqttBroker(_Strict):
    """The plant's MQTT broker: read meters from it (``[sources.mqtt]``) or publish to it
    (``[sinks.mqtt]``). ``url`` is ``mqtt://host:1883`` or ``mqtts://host:8883`` (TLS)."""

    url: str = Field(pattern=r"^mqtts?://[^/\s]+/?$")
    username: str | None = None
    password: str | None = None
    client_id: str | None = Field(None, description="default carbonline-<site>[-sink]")
    tls: Tls | None = None
    keepalive: Seconds = 60
    session_expiry: Seconds = Field(
        3600, description="how long the broker keeps the persistent session (and queues QoS 1 "
        "messages) while carbonline is away")
    max_payload: int = Field(65536, gt=0, description="larger payloads are dead-lettered")
    dead_letter_topic: str | None = Field(
        None, description="raw payloads carbonline refused go here; default "
        "carbonline/<site>/deadletter; empty string turns it off")


class OpcuaServer(_Strict):
    """A PLC or gateway speaking OPC UA: the meters' ``opcua = { node = … }`` are subscribed
    (data change) with the server's source timestamp."""

    url: str = Field(pattern=r"^opc\.tcp://\S+$")
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    certificate: str | None = Field(None, description="this client's certificate (DER or PEM)")
    private_key: str | None = None
    server_certificate: str | None = None
    username: str | None = None
    password: str | None = None
    publishing_interval: Seconds = 1

    @model_validator(mode="after")
    def _certificates(self) -> OpcuaServer:
        if self.security_policy != "None" and not (self.certificate and self.private_key):
            raise ValueError("security_policy Basic256Sha256 needs 'certificate' and "
                             "'private_key'")
        return self


class InfluxServer(_Strict):
    """An InfluxDB (or a server speaking its HTTP API): a historian carbonline reads meters
    from (``[sources.influx]``) or the database it writes carbon_* series to
    (``[sinks.influx]``). Username/password or a token, not both."""

    url: str = Field(pattern=r"^https?://\S+$")
    database: str = Field(description="1.x database; 2.x/3.x: the bucket (DBRP-mapped for reads)")
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None
    org: str | None = Field(None, description="2.x organisation, for the v2 write API")
    tls: Tls | None = None
    timeout: Seconds = 10

    @model_validator(mode="after")
    def _credentials(self) -> InfluxServer:
        if self.token and (self.username or self.password):
            raise ValueError("give 'token' or 'username'/'password', not both")
        if bool(self.username) != bool(self.password):
            raise ValueError("'username' and 'password' go together")
        return self


class InfluxSource(InfluxServer):
    """Reading meters from a historian. ``subscription`` (InfluxDB 1.x): InfluxDB pushes every
    write to carbonline's HTTP app, registered with ``CREATE SUBSCRIPTION``; ``poll``: an
    InfluxQL query every ``poll_interval`` for points newer than those already read (1.x, 2.x
    through DBRP, 3.x)."""

    mode: Literal["subscription", "poll"] = "poll"
    poll_interval: Seconds = 10
    subscription: str = Field("carbonline", description="the subscription's name")
    advertise_url: str | None = Field(
        None, description="the URL InfluxDB posts to; default carbonline's [http] listen")


class InfluxSink(InfluxServer):
    """Writing the carbon_* series: ``api = "v2"`` through influxdb-client (2.x, 3.x, Cloud,
    1.8+), ``"v1"`` through ``/write`` (any 1.x), ``"auto"`` decides from ``/ping``."""

    api: Literal["auto", "v1", "v2"] = "auto"
    batch_size: int = Field(5000, gt=0)
    max_queue: int = Field(
        100_000, gt=0, description="points kept in memory while the server is away (~300 "
        "bytes each: ~30 MB; 100 points a minute ride out ~16 h); beyond, new points are "
        "refused and counted as points_dropped")
    spool_max_points: int = Field(
        5_000_000, gt=0, description="with [run] state_dir: points the disk spool holds "
        "(~300 bytes each: ~1.5 GB); beyond, new points are refused and spool_full says so")
    flush_interval: Seconds = Field(
        0.1, gt=0, description="the longest a point waits to be batched with others: keeps "
        "a closed window queryable within a second")


class MqttSink(MqttBroker):
    """Publishing for Node-RED (design brief §3): ``<prefix>/<site>/<line>/intensity``
    (retained: the line's last value), ``…/<line>/machine/<machine>``, ``…/<line>/order``,
    ``<prefix>/<site>/factor/<basis>`` and ``<prefix>/<site>/health/<component>``, JSON
    payloads whose keys are the series' tag and field names plus ``time``."""

    topic_prefix: str = "carbonline"
    windows: list[str] = Field(
        default_factory=lambda: ["1m"], description="the carbon_intensity windows published "
        "(the retained message of a line is the last one)")
    retain: bool = True
    qos: Literal[0, 1, 2] = 1
    request_topic: str | None = Field(
        None, description="MQTT request/response (the HTTP API's questions for flows that "
        "prefer MQTT): requests are taken on this filter; default "
        "<prefix>/<site>/request/#; empty string turns it off")
    response_prefix: str | None = Field(
        None, description="answers to MQTT 3.1.1 requests (no Response Topic) go to "
        "<response_prefix>/<correlation_id>; default <prefix>/<site>/response")


class HistorianSeries(InfluxServer):
    """A grid-intensity series in InfluxDB (written there by a Node-RED flow polling a
    grid-carbon API, say): ``measurement`` and ``field`` (kg CO₂e/kWh), ``tags`` to match."""

    measurement: str
    field: str = "kg_per_kwh"
    tags: dict[str, str] = Field(default_factory=dict)


class Instrument(_Strict):
    """An energy attribute certificate (GO, REC, I-REC) or a contract with a volume, valid over
    ``[valid_from, valid_to)``: its volume is spread evenly over that time and, bin by bin,
    covers the site's electricity at its own factor; what a bin does not use is not banked."""

    name: str
    valid_from: datetime
    valid_to: datetime
    mwh: float = Field(gt=0, description="volume, MWh")
    kg_per_kwh: float = Field(0.0, ge=0, description="the instrument's factor (0: renewable)")

    @model_validator(mode="after")
    def _period(self) -> Instrument:
        if self.valid_from.tzinfo is None or self.valid_to.tzinfo is None:
            raise ValueError("give valid_from and valid_to with a UTC offset, e.g. "
                             "2026-01-01T00:00:00+01:00")
        if self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class Factors(_Strict):
    """Grid emission factors, kg CO₂e/kWh: a constant, an hour-of-day profile (site-local), or
    neither — then the shipped annual table's value for the site's grid zone.

    ``profile`` has 24 values (every day) or 7 rows of 24 (Monday first). Market-based Scope 2
    follows the GHG Protocol Scope 2 Guidance hierarchy: ``instruments`` (certificates and
    contracts) first, then ``market_kg_per_kwh`` (a supplier-specific or residual-mix factor)
    for the rest; without it the grid average stands in, marked estimated.
    """

    grid_kg_per_kwh: float | None = Field(None, ge=0)
    profile: list[float] | list[list[float]] | None = None
    market_kg_per_kwh: float | None = Field(None, ge=0)
    source: str = Field("configured", description="where the figure comes from, for provenance")
    gwp: Literal["AR5", "AR6"] = Field("AR6", description="GWP100 set for CH₄ and N₂O of fuels")
    instruments: list[Instrument] = Field(default_factory=list)
    series: str | None = Field(
        None, description="a grid-intensity series file (CSV time,kg_per_kwh or line protocol "
        "with a kg_per_kwh field); the rest of the chain fills its gaps")
    series_max_gap: Seconds = Field(3600, description="a series value holds at most this long")
    tables_dir: str | None = Field(
        None, description="a directory of the plant's own (newer) factor tables, *.csv in the "
        "shipped tables' columns; they answer before the shipped ones")
    historian: HistorianSeries | None = Field(
        None, description="a grid-intensity series already in an InfluxDB; like 'series', the "
        "rest of the chain fills its gaps")

    @model_validator(mode="after")
    def _one_of(self) -> Factors:
        if self.grid_kg_per_kwh is not None and self.profile is not None:
            raise ValueError("give one of 'grid_kg_per_kwh' or 'profile', not both")
        if self.profile is not None:
            rows = self.profile if isinstance(self.profile[0], list) else [self.profile]
            if len(rows) not in (1, 7) or any(len(r) != 24 for r in rows):
                raise ValueError("'profile' needs 24 hourly values, or 7 rows of 24 (Mon first)")
            if any(v < 0 for r in rows for v in r):
                raise ValueError("'profile' values must be ≥ 0 kg CO₂e/kWh")
        return self


class CsvFormat(_Strict):
    """How CSV files write time: the zone of naive times (both shapes); for wide files also
    the time column, its strptime format and the midnight convention."""

    time_column: str = "time"
    time_format: str | None = Field(None, description="strptime format; none = ISO 8601")
    timezone: Annotated[str, BeforeValidator(_check_timezone)] | None = Field(
        None, description="zone of naive times; default the site's"
    )
    midnight_ends_day: bool = Field(
        False, description="a 00:00 row is labelled with the day that is ending"
    )


class Engine(_Strict):
    """Windowing: base resolution, fixed windows, lateness and the revision horizon."""

    resolution: Seconds = 60
    windows: list[str] = Field(default_factory=lambda: ["1m", "15m"])
    machine_windows: list[str] = Field(
        default_factory=lambda: ["15m"],
        description="fixed windows that also get carbon_machine rows (shift, day and order "
        "always do); 1m machine rows would multiply the series for little use",
    )
    lateness: Seconds = 120
    revision_horizon: Seconds = 3600
    meter_timeout: Seconds = Field(
        300, description="a meter silent this long no longer holds windows open"
    )
    max_future: Seconds = Field(
        3600, description="a reading this far ahead of the clock is refused as 'future'"
    )

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for name in value:
            parse_duration(name)
        return value

    @model_validator(mode="after")
    def _multiples(self) -> Engine:
        if self.resolution <= 0 or self.resolution != int(self.resolution):
            raise ValueError("'resolution' must be a whole number of seconds")
        for name in dict.fromkeys(["1m", "15m", *self.windows]):  # 1m and 15m always exist
            if parse_duration(name) % self.resolution:
                raise ValueError(f"window {name!r} is not a multiple of the resolution")
        for name in self.machine_windows:
            if name not in {"1m", "15m", *self.windows}:
                raise ValueError(f"machine window {name!r} is not one of the windows")
        if 86400 % self.resolution:
            raise ValueError("'resolution' must divide a day")
        return self


_Section = TypeVar("_Section", MqttBroker, MqttSink, OpcuaServer)


def settings_for(url: str, configured: _Section | None, model: type[_Section]) -> _Section:
    """The configured section when it is the one for ``url``; otherwise ``model``'s defaults
    for ``url`` (an extra ``--input``/``--output`` URL given on the command line)."""
    return configured if configured is not None and configured.url == url else model(url=url)


class Sources(_Strict):
    """Live inputs of ``carbonline run``; each meter is read from the one its mapping names."""

    mqtt: MqttBroker | None = None
    opcua: OpcuaServer | None = None
    influx: InfluxSource | None = None


class Sinks(_Strict):
    """Outputs of ``carbonline run``."""

    influx: InfluxSink | None = None
    mqtt: MqttSink | None = None


class Http(_Strict):
    """The one HTTP app of ``carbonline run``: the InfluxDB subscription endpoint, the
    ``/api/v1`` API, ``/health`` and ``/metrics``."""

    listen: str = Field("127.0.0.1:8787", pattern=r"^\S+:\d+$")
    token: str | None = Field(
        None, min_length=1, description="the bearer token the /api/v1 routes require "
        "(Authorization: Bearer …); write it as \"${CARBONLINE_API_TOKEN}\", never literally; "
        "without it the API is open to whoever reaches [http] listen")


class Run(_Strict):
    """Wall-clock behaviour of ``carbonline run``."""

    idle_timeout: Seconds = Field(
        60, description="no reading for this long: event time advances with the wall clock, "
        "so windows still close when a plant goes quiet")
    health_interval: Seconds = Field(60, description="how often carbonline_health is written")
    state_dir: str | None = Field(
        None, description="the state store (SQLite): with it, a run resumes after a stop or "
        "crash (checkpoint + batch log) and sinks spool unacknowledged points on disk")
    checkpoint_interval: Seconds = Field(
        10, description="with state_dir: how often the engine is saved (the batch log covers "
        "the time between)")
    lines: list[str] | None = Field(
        None, description="scale-out, static: the lines this worker owns (default: all)")
    workers: list[str] = Field(
        default_factory=list, description="scale-out, hashed: every worker's name; with "
        "'worker', lines are shared out by rendezvous hashing")
    worker: str | None = Field(None, description="this worker's name, one of 'workers'")

    @model_validator(mode="after")
    def _one_partitioning(self) -> Run:
        if self.lines is not None and self.workers:
            raise ValueError("give 'lines' or 'workers' + 'worker', not both")
        if bool(self.workers) != (self.worker is not None):
            raise ValueError("'workers' and 'worker' go together")
        if self.worker is not None and self.worker not in self.workers:
            raise ValueError(f"worker {self.worker!r} is not one of the workers "
                             f"({', '.join(self.workers)})")
        return self


class Analysis(_Strict):
    """The analyser stage (``[analysis]``): energy baselines per line × SKU × machine, intensity
    alerts on the 1-minute windows and their probable cause (design brief §5)."""

    enabled: bool = False
    learn_windows: int = Field(
        60, gt=2, description="1-minute windows of normal running a line × SKU × machine "
        "needs before its baseline is fitted; until then the row is 'learning'")
    history_windows: int = Field(
        1440, gt=2, description="the most recent normal windows a refit uses")
    refit_windows: int = Field(
        1440, gt=0, description="normal windows between two refits of a baseline (a day: "
        "refitting sooner would teach the baseline a slow drift)")
    utility_history_windows: int = Field(
        60, gt=2, description="a shared utility's (chiller, compressed air plant) share "
        "follows the weather: its baseline is refitted over this many recent windows …")
    utility_refit_windows: int = Field(5, gt=0, description="… every this many")
    grid_spike: float = Field(
        0.25, gt=0, description="a grid factor this far above its median of the last two "
        "hours (relative) is a grid alert (severity info)")
    min_r2: float = Field(0.6, ge=0, le=1, description="a fit explaining less is not used")
    fit_block_windows: int = Field(
        5, gt=0, description="windows summed into one point of a baseline fit: a minute is "
        "mostly noise (a compressor's load cycles, counts at tick edges)")
    smooth_windows: int = Field(
        3, gt=0, description="the detectors judge sums over at least this many producing "
        "windows (more when they make fewer than 10 units: a count's steps)")
    noise_sigmas: float = Field(
        3, ge=0, description="a row's deviation limits are at least this many standard "
        "deviations of its own learning-time deviation (a line making 3 units a minute is "
        "noisier than one making 300)")
    machine_deviation: float = Field(
        0.2, gt=0, description="a machine using this much more energy than its baseline "
        "expects for the units made (relative; at least noise_sigmas of its own noise; twice "
        "this for a shared utility, whose share of a line moves with the other lines' units) "
        "is an equipment alert")
    min_cause_share: float = Field(
        0.5, ge=0, le=1, description="a deviation whose largest cause explains less of the "
        "rise is spread over every machine alike (fewer good units counted than made), not a "
        "fault: no alert")
    throughput_drop: float = Field(
        0.35, gt=0, lt=1, description="good units per hour this far below the baseline's "
        "(relative) is a throughput alert")
    min_coverage_pct: float = Field(
        90, ge=0, le=100, description="windows covered less are data_quality: never alert")
    deviation_open: float = Field(0.10, gt=0, description="alert above baseline × (1 + this)")
    deviation_close: float = Field(0.05, ge=0, description="normal again below baseline × "
                                   "(1 + this): the hysteresis")
    open_after_min: float = Field(3, gt=0, description="minutes high before an alert opens")
    close_after_min: float = Field(5, gt=0, description="minutes normal before it resolves")
    cusum_k: float = Field(0.05, ge=0, description="CUSUM allowance, relative deviation")
    cusum_h: float = Field(1.0, gt=0, description="CUSUM alarm level, relative deviation × min")
    drivers: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="machine → { driver → series file }: what besides "
        "time and units moves its energy, e.g. { chiller = { outdoor_c = \"weather.csv\" } }; "
        "the file is CSV time,<driver> or line protocol with that field (as [factors] series); "
        "the machine's baseline becomes E = P_idle·t + e·U + c·d·t")
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="per SKU: kg CO₂e/unit above which it alerts "
        "whatever the baseline (written as threshold_co2e_per_unit_kg)")


class RevenuePeriod(_Strict):
    """Net revenue of one period (``[[report.revenue]]``), for ESRS E1-6 GHG intensity per net
    revenue. A report period covering part of it takes the share of its days."""

    start: date = Field(description="first day of the period")
    end: date = Field(description="the day after the last (exclusive), e.g. next 1 January")
    net_revenue: float = Field(gt=0, description="in [report] currency")

    @model_validator(mode="after")
    def _span(self) -> RevenuePeriod:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class Report(_Strict):
    """``carbonline report`` (``[report]``): the currency of revenue and its periods."""

    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    revenue: list[RevenuePeriod] = Field(default_factory=list)


#: A Salesforce record id: 15 characters, or the 18-character case-safe form.
SALESFORCE_ID = r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$"
SalesforceId = Annotated[str, Field(pattern=SALESFORCE_ID)]
"""A Salesforce record id: 15 characters, or the 18-character case-safe form."""

GapFillingMethod = Literal["BUILDING_BENCHMARK", "DAILY_AVERAGE_CURRENT_YEAR",
                           "DAILY_AVERAGE_LAST_YEAR", "MANUAL", "REGIONAL_BENCHMARK"]


class SalesforceExport(_Strict):
    """``[export.salesforce]``: Net Zero Cloud ``StnryAssetEnrgyUse`` records, one per asset,
    day and fuel type. The target record ids are the org's own: the stationary asset
    (``StnryAssetEnvrSrc``) of each line, the electricity emissions factor set (location-based)
    and the other-emissions factor set of each fuel. The market-based factor set is a field
    of the asset record in Net Zero Cloud, not of an energy use record, so it is not sent."""

    instance_url: str = Field(pattern=r"^https?://[^/\s]+/?$",
                              description="the org's My Domain URL, https://…my.salesforce.com")
    access_token: str | None = Field(
        None, min_length=1, description="OAuth 2.0 access token for a push; write "
        "\"${SALESFORCE_ACCESS_TOKEN}\", never literally (a dry run needs none)")
    asset: SalesforceId | None = Field(None, description="StnryAssetEnvrSrc id for every line")
    assets: dict[str, SalesforceId] = Field(
        default_factory=dict, description="line → StnryAssetEnvrSrc id (beats 'asset')")
    electricity_factor_set: SalesforceId | None = Field(
        None, description="ElectricityEmssnFctrSet id for the electricity rows")
    fuel_factor_sets: dict[str, SalesforceId] = Field(
        default_factory=dict, description="[fuels] key → OtherEmssnFctrSet id")
    fuel_types: dict[str, str] = Field(
        default_factory=dict, description="[fuels] key → FuelType picklist value, where the "
        "built-in mapping (natural_gas → NaturalGas, diesel → Diesel, …) does not fit")
    gap_filling_method: GapFillingMethod | None = Field(
        None, description="DataGapFillingMethodName for the records of lines whose coverage "
        "fell below 100 % in the period; none: left empty (carbonline spreads a counter's "
        "delta over a gap, which is none of Net Zero Cloud's methods)")
    timeout: Seconds = 30


class WebhookExport(_Strict):
    """``[export.webhook]``: the inventory as JSON (schema in
    ``carbonline/export/webhook.schema.json``), POSTed to ``url``."""

    url: str = Field(pattern=r"^https?://\S+$")
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra request headers, e.g. Authorization = "
        "\"Bearer ${WEBHOOK_TOKEN}\"")
    timeout: Seconds = 30


class Export(BaseModel):
    """``[export.*]``: one table per ESG exporter (``carbonline export NAME``). The built-ins'
    tables are validated here; a third-party exporter's ``[export.<name>]`` is passed to it
    as a dict, for the plugin to validate."""

    model_config = ConfigDict(extra="allow", frozen=True)

    salesforce: SalesforceExport | None = None
    webhook: WebhookExport | None = None

    def settings(self, name: str) -> object | None:
        """The ``[export.<name>]`` table: a model for a built-in, a dict for a plugin."""
        if name in type(self).model_fields:
            return getattr(self, name)
        return (self.model_extra or {}).get(name)


class PlantConfig(_Strict):
    """The whole plant.toml."""

    site: Site
    engine: Engine = Field(default_factory=Engine)
    factors: Factors = Field(default_factory=Factors)
    shifts: ShiftCalendar = Field(default_factory=ShiftCalendar)
    lines: list[Line]
    machines: list[Machine]
    shared: list[Allocation] = Field(default_factory=list)
    main_meter: MainMeter | None = None
    fuels: dict[str, Fuel] = Field(default_factory=dict)
    meters: list[Meter]
    csv: CsvFormat = Field(default_factory=CsvFormat)
    sources: Sources = Field(default_factory=Sources)
    sinks: Sinks = Field(default_factory=Sinks)
    http: Http = Field(default_factory=Http)
    run: Run = Field(default_factory=Run)
    analysis: Analysis = Field(default_factory=Analysis)
    report: Report = Field(default_factory=Report)
    export: Export = Field(default_factory=Export)

    @model_validator(mode="after")
    def _references(self) -> PlantConfig:
        errors: list[str] = []
        if self.analysis.enabled and "1m" not in self.engine.machine_windows:
            errors.append("analysis: the analyser reads 1-minute machine rows; add \"1m\" to "
                          "[engine] machine_windows")
        line_ids = _unique("lines", [line.id for line in self.lines], errors)
        machine_ids = _unique("machines", [m.id for m in self.machines], errors)
        meter_ids = _unique("meters", [m.id for m in self.meters], errors)
        shared_ids = {a.machine for a in self.shared}
        for i, machine in enumerate(self.machines):
            if machine.line is not None and machine.line not in line_ids:
                errors.append(f"machines[{i}].line: {_unknown(machine.line, 'line', line_ids)}")
            if machine.line is None and machine.id not in shared_ids:
                errors.append(
                    f"machines[{i}]: machine {machine.id!r} has no 'line' and no [[shared]] "
                    "allocation, so its energy would belong to no line"
                )
        for i, alloc in enumerate(self.shared):
            if alloc.machine not in machine_ids:
                errors.append(f"shared[{i}].machine: {_unknown(alloc.machine, 'machine', machine_ids)}")
            for name in alloc.lines:
                if name not in line_ids:
                    errors.append(f"shared[{i}].lines: {_unknown(name, 'line', line_ids)}")
        main_id = self.main_meter.meter if self.main_meter else None
        for i, meter in enumerate(self.meters):
            if meter.role in ENERGY_ROLES and not meter.machine and meter.id != main_id:
                errors.append(
                    f"meters[{i}]: electricity meter {meter.id!r} needs 'machine' "
                    "(only the [main_meter] belongs to no machine)"
                )
            if meter.machine is not None and meter.machine not in machine_ids:
                errors.append(f"meters[{i}].machine: {_unknown(meter.machine, 'machine', machine_ids)}")
            if meter.line is not None and meter.line not in line_ids:
                errors.append(f"meters[{i}].line: {_unknown(meter.line, 'line', line_ids)}")
            if meter.fuel is not None:
                if meter.fuel not in self.fuels:
                    errors.append(f"meters[{i}].fuel: {_unknown(meter.fuel, 'fuel', set(self.fuels))}")
                elif meter.unit and meter.unit != self.fuels[meter.fuel].unit:
                    errors.append(
                        f"meters[{i}].unit: {meter.unit!r} differs from fuel "
                        f"{meter.fuel!r} unit {self.fuels[meter.fuel].unit!r}"
                    )
        for name, fuel in self.fuels.items():
            try:
                fuel.factors(name, self.factors.gwp)
            except ValueError as exc:
                errors.append(f"fuels.{name}: give ncv_kwh_per_unit and co2e_kg_per_unit, or "
                              f"name an IPCC fuel: {exc}")
        f = self.factors
        if f.series is not None and not os.path.isfile(f.series):
            errors.append(f"factors.series: no such file {f.series!r}")
        known = {m.id for m in self.machines}
        for machine, drivers in self.analysis.drivers.items():
            if machine not in known:
                errors.append(f"analysis.drivers: no machine {machine!r} (have: "
                              f"{', '.join(sorted(known))})")
            for name, path in drivers.items():
                if not os.path.isfile(path):
                    errors.append(f"analysis.drivers.{machine}.{name}: no such file {path!r}")
        if f.grid_kg_per_kwh is None and f.profile is None:
            try:
                row = grid_tables(f.tables_dir).factor(self.site.grid_zone)
            except (OSError, ValueError) as exc:
                errors.append(f"factors.tables_dir: {exc}")
            else:
                if row is None:
                    errors.append(
                        f"factors: no grid factor table covers zone {self.site.grid_zone!r}; "
                        "give [factors] grid_kg_per_kwh, profile or tables_dir "
                        "(`carbonline factors --list` shows the shipped zones)")
        if self.main_meter is not None:
            meter = next((m for m in self.meters if m.id == self.main_meter.meter), None)
            if meter is None:
                errors.append(f"main_meter.meter: {_unknown(self.main_meter.meter, 'meter', meter_ids)}")
            elif meter.role not in ENERGY_ROLES:
                errors.append("main_meter.meter: the main meter must be an electricity meter")
            for name in self.main_meter.shares or {}:
                if name not in line_ids:
                    errors.append(f"main_meter.shares: {_unknown(name, 'line', line_ids)}")
        if errors:
            raise ValueError("\n".join(errors))
        return self

    @property
    def window_sizes(self) -> dict[str, int]:
        """The fixed windows, name → seconds (always including ``1m`` and ``15m``)."""
        names = dict.fromkeys(["1m", "15m", *self.engine.windows])
        return {name: int(parse_duration(name)) for name in names}


def _unique(section: str, ids: list[str], errors: list[str]) -> set[str]:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            errors.append(f"{section}[{i}].id: {ident!r} is defined twice")
        seen.add(ident)
    return seen


def _unknown(name: str, kind: str, known: set[str]) -> str:
    listing = ", ".join(sorted(known)) or "none defined"
    return f"{name!r} is not a {kind} (known: {listing})"


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: object, origin: str, key: str = "") -> object:
    """Replace ``${NAME}`` with the environment variable; a missing one is a config error."""
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{origin}: {key}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REF.sub(lookup, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, origin, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, origin, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def parse_config(data: dict, origin: str = "plant.toml") -> PlantConfig:
    """Validate a parsed TOML document; ``origin`` names it in error messages."""
    expanded = _expand_env(data, origin)
    try:
        return PlantConfig.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, origin)) from None


def load_config(path: str | Path) -> PlantConfig:
    """Read and validate a plant.toml; every problem is a :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is fine
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))


def describe_errors(exc: ValidationError, origin: str) -> str:
    """pydantic's errors as ``origin: key: problem`` lines (also used for scenario files)."""
    lines = []
    for err in exc.errors():
        key = ""
        for part in err["loc"]:
            key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (misspelt?)"
        elif err["type"] == "missing":
            message = "required key is missing"
        if key:
            lines.append(f"{origin}: {key}: {message}")
        else:  # cross-reference errors already name their own keys, one per line
            lines.extend(f"{origin}: {part}" for part in message.split("\n"))
    return "\n".join(lines)
