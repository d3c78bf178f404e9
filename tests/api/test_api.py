"""The HTTP API of ``carbonline run`` end to end: readings posted to it go through the run
into a real InfluxDB, and what it answers (a line's intensity, an order's and a period's
footprint, open alerts, health and metrics) is checked against what InfluxDB holds and
against the posted kWh and units themselves."""

from __future__ import annotations

import math
import time

import httpx
import numpy as np
import pytest

from carbonline.api.context import ApiContext
from carbonline.api.errors import ApiError
from carbonline.api.footprint import order_footprint
from carbonline.api.history import History
from carbonline.api.view import RecentRows
from carbonline.plugins import get_manager
from carbonline.records import AlertRow
from carbonline.series import rfc3339
from carbonline.state import StateStore

from api.plant_run import (FACTOR, KWH, MINUTE, UNITS, minute_sums, minutes, serve,
                           wait_for)

BAD = [{"meter": "no-such-meter", "ts": 0, "value": 1.0},
       {"meter": "e1", "ts": 0, "value": 1.0, "unit": "Wh"}]


@pytest.fixture(scope="module")
def served(mosquitto, influxdb):
    """The run, fed minutes 0–8 (with two bad readings in between) and 9–17 over HTTP, once
    the 1m windows of minutes 0–16 are in InfluxDB and order A-2 has ended."""
    with serve(mosquitto, influxdb) as served:
        first = minutes(served.t0, 0, 8)
        first[3:3] = BAD  # indexes 3 and 4
        served.answers = [
            httpx.post(f"{served.url}/api/v1/readings", json={"readings": body},
                       headers=served.headers, timeout=30)
            for body in (first, minutes(served.t0, 9, 17))]
        wait_for(lambda: minute_sums(influxdb, served, served.t0,
                                     served.t0 + 17 * MINUTE)["count"] == 17,
                 "17 minutes in InfluxDB")
        wait_for(lambda: served.live.view.order("A-2"), "order A-2 to end")
        yield served


def get(served, path: str, **params) -> httpx.Response:
    return httpx.get(served.url + path, params=params, headers=served.headers, timeout=30)


def test_posted_readings_become_minutes_in_influxdb(served, influxdb):
    first, second = served.answers
    assert first.status_code == 202, first.text
    assert first.json()["accepted"] == len(minutes(served.t0, 0, 8))
    reasons = {r["index"]: r["reason"] for r in first.json()["rejected"]}
    assert set(reasons) == {3, 4}
    assert reasons[3].startswith("unknown_meter") and "no-such-meter" in reasons[3]
    assert reasons[4].startswith("wrong_unit") and "'Wh'" in reasons[4]
    assert second.status_code == 202 and second.json() == {
        "accepted": len(minutes(served.t0, 9, 17)), "rejected": []}
    body = influxdb.query(
        'SELECT "co2e_kg", "good_units", "sku" FROM "carbon_intensity" WHERE "window" = \'1m\''
        f" AND time >= {served.t0} AND time < {served.t0 + 17 * MINUTE}", db=served.database)
    rows = body["results"][0]["series"][0]["values"]
    assert [r[0] for r in rows] == [rfc3339(served.t0 + i * MINUTE) for i in range(17)]
    assert [r[1] for r in rows] == pytest.approx([kwh * FACTOR for kwh in KWH])
    assert [r[2] for r in rows] == UNITS
    assert [r[3] for r in rows] == ["cola"] * 9 + ["lime"] * 8
    source = f"source {served.url}/api/v1/readings"
    wait_for(lambda: any(r["component"] == source and r.get("rejected") == 2
                         for r in httpx.get(served.url + "/health").json()), "health")
    (row,) = [r for r in httpx.get(served.url + "/health").json() if r["component"] == source]
    assert row["readings"] == first.json()["accepted"] + second.json()["accepted"]
    assert row["requests"] == 2


@pytest.mark.parametrize("body", [
    {"readings": [{"meter": "e1", "value": 1.0}]},  # no ts
    {"readings": [{"meter": "e1", "ts": 0, "value": True}]},  # a boolean is no reading
    {"rows": []},
    [1, 2],
])
def test_a_malformed_body_is_refused_whole(served, body):
    before = served.live.http_readings.counters["requests"]
    response = httpx.post(f"{served.url}/api/v1/readings", json=body, headers=served.headers)
    assert response.status_code == 422
    assert response.json()["detail"]  # pydantic says which key and why
    assert served.live.http_readings.counters["requests"] == before


def test_text_that_is_not_json_is_a_4xx(served):
    response = httpx.post(f"{served.url}/api/v1/readings", content=b"e1 1.0",
                          headers={**served.headers, "Content-Type": "application/json"})
    assert response.status_code == 422


def test_an_order_footprint_is_the_sum_of_its_minutes_in_influxdb(served, influxdb):
    for order, first, last, skus in (("A-1", 0, 6, ["cola"]), ("A-2", 6, 12, ["cola", "lime"])):
        response = get(served, f"/api/v1/orders/{order}")
        assert response.status_code == 200, response.text
        footprint = response.json()
        start, end = served.t0 + first * MINUTE, served.t0 + last * MINUTE
        stored = minute_sums(influxdb, served, start, end)
        assert (footprint["start"], footprint["end"]) == (rfc3339(start), rfc3339(end))
        assert footprint["co2e_kg"] == pytest.approx(stored["co2e_kg"])
        assert footprint["co2e_kg"] == pytest.approx(FACTOR * sum(KWH[first:last]))
        assert footprint["good_units"] == stored["good_units"] == sum(UNITS[first:last])
        assert footprint["co2e_per_unit_kg"] == pytest.approx(
            stored["co2e_kg"] / stored["good_units"])
        assert footprint["energy_kwh"] == pytest.approx(sum(KWH[first:last]))
        assert footprint["scope1_co2e_kg"] == 0
        assert footprint["scope2_location_co2e_kg"] == pytest.approx(footprint["co2e_kg"])
        assert footprint["scope2_market_co2e_kg"] == pytest.approx(footprint["co2e_kg"])
        assert (footprint["lines"], footprint["skus"]) == (["l1"], skus)
        assert footprint["order_id"] == order and footprint["source"] == "memory"
        bases = {f["basis"]: f for f in footprint["factors"]}
        assert set(bases) == {"location", "market"}
        assert bases["location"]["provider"] == "constant" and bases["location"]["zone"] == "DE"


def test_an_order_not_in_memory_is_read_back_from_influxdb(served):
    plant, pm = served.live.plant, get_manager()
    history = History(plant.config.sinks.influx, plant.site)
    from_memory = get(served, "/api/v1/orders/A-2").json()
    from_influx = order_footprint(ApiContext(plant, RecentRows(), history, pm), "A-2")
    assert from_influx.source == "influxdb"
    read_back = from_influx.model_dump()
    numbers = {k for k, v in from_memory.items() if isinstance(v, float)}
    assert numbers >= {"co2e_kg", "good_units", "scope2_market_co2e_kg", "energy_kwh"}
    assert {k: read_back[k] for k in numbers} == pytest.approx(
        {k: from_memory[k] for k in numbers})
    assert {k: v for k, v in read_back.items() if k not in numbers | {"source"}} == {
        k: v for k, v in from_memory.items() if k not in numbers | {"source"}}
    with pytest.raises(ApiError) as unknown:
        order_footprint(ApiContext(plant, RecentRows(), history, pm), "Z-9")
    assert unknown.value.status == 404
    with pytest.raises(ApiError) as no_store:
        order_footprint(ApiContext(plant, RecentRows(), None, pm), "A-2")
    assert no_store.value.status == 409 and "[sinks.influx]" in no_store.value.reason
    response = get(served, "/api/v1/orders/Z-9")
    assert response.status_code == 404 and "Z-9" in response.json()["detail"]


def test_a_period_footprint_is_sum_over_sum_not_a_mean_of_ratios(served, influxdb):
    start, end = served.t0, served.t0 + 17 * MINUTE
    response = get(served, "/api/v1/footprint", line="l1", **{"from": rfc3339(start)},
                   to=rfc3339(end))
    assert response.status_code == 200, response.text
    period = response.json()
    stored = minute_sums(influxdb, served, start, end)
    assert period["co2e_kg"] == pytest.approx(stored["co2e_kg"])
    assert period["good_units"] == stored["good_units"] == sum(UNITS)
    ratio = FACTOR * sum(KWH) / sum(UNITS)
    mean = sum(FACTOR * k / u for k, u in zip(KWH, UNITS)) / len(KWH)
    assert not math.isclose(ratio, mean, rel_tol=1e-3)  # the data tells the two apart
    assert period["co2e_per_unit_kg"] == pytest.approx(ratio)
    assert (period["start"], period["end"], period["source"]) == (
        rfc3339(start), rfc3339(end), "influxdb")
    lime = get(served, "/api/v1/footprint", sku="lime", **{"from": rfc3339(start)},
               to=rfc3339(end)).json()
    assert lime["co2e_kg"] == pytest.approx(FACTOR * sum(KWH[9:]))
    assert lime["skus"] == ["lime"]
    epoch = get(served, "/api/v1/footprint", **{"from": start // 10**9}, to=end // 10**9)
    assert epoch.json()["co2e_kg"] == pytest.approx(period["co2e_kg"])


def test_a_bad_period_is_a_4xx_with_a_reason(served):
    start = rfc3339(served.t0)
    backwards = get(served, "/api/v1/footprint", **{"from": start}, to=rfc3339(served.t0 - 1))
    assert backwards.status_code == 400 and "before" in backwards.json()["detail"]
    unknown = get(served, "/api/v1/footprint", line="l9", **{"from": start},
                  to=rfc3339(served.t0 + MINUTE))
    assert unknown.status_code == 404 and "l9" in unknown.json()["detail"]
    assert get(served, "/api/v1/footprint", **{"from": start}).status_code == 422
    assert get(served, "/api/v1/footprint", **{"from": "yesterday"},
               to=start).status_code == 422


def test_a_line_shows_its_newest_closed_windows_and_its_shift_so_far(served, influxdb):
    response = get(served, "/api/v1/lines/l1/intensity")
    assert response.status_code == 200, response.text
    line = response.json()
    windows = {(w["window"], w["sku"]): w for w in line["windows"]}
    assert set(windows) == {("1m", "cola"), ("1m", "lime"), ("15m", "cola"), ("15m", "lime")}
    assert windows["1m", "cola"]["time"] == rfc3339(served.t0 + 8 * MINUTE)
    assert windows["1m", "cola"]["co2e_kg"] == pytest.approx(FACTOR * KWH[8])
    assert windows["1m", "lime"]["time"] >= rfc3339(served.t0 + 16 * MINUTE)
    for sku, minutes_of_sku in (("cola", range(0, 9)), ("lime", range(9, 15))):
        quarter = windows["15m", sku]  # the quarter hour split at the changeover
        assert quarter["time"] == rfc3339(served.t0)
        assert quarter["co2e_kg"] == pytest.approx(FACTOR * sum(KWH[i] for i in minutes_of_sku))
        assert quarter["good_units"] == sum(UNITS[i] for i in minutes_of_sku)
    shift = line["shift"]
    body = influxdb.query(
        'SELECT sum("co2e_kg"), sum("good_units") FROM "carbon_intensity" WHERE '
        f"\"window\" = '1m' AND \"shift\" = '{shift['shift']}'", db=served.database)
    _, co2e, units = body["results"][0]["series"][0]["values"][0]
    assert shift["co2e_kg"] == pytest.approx(co2e) and shift["good_units"] == units
    assert shift["co2e_per_unit_kg"] == pytest.approx(co2e / units)
    everything = get(served, "/api/v1/lines").json()
    assert [entry["line"] for entry in everything] == ["l1"]
    assert everything[0]["windows"][:4] == line["windows"][:4]
    unknown = get(served, "/api/v1/lines/l9/intensity")
    assert unknown.status_code == 404 and "l9" in unknown.json()["detail"]


def test_the_api_needs_the_token_but_health_and_metrics_stay_open(served):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
        for path in ("/api/v1/lines", "/api/v1/alerts", "/api/v1/orders/A-1"):
            response = httpx.get(served.url + path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "token" in response.json()["detail"]
    refused = httpx.post(f"{served.url}/api/v1/readings",
                         json={"readings": minutes(served.t0, 17, 17)})
    assert refused.status_code == 401
    health = httpx.get(served.url + "/health")
    assert health.status_code == 200
    metrics = httpx.get(served.url + "/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith(
        "text/plain")
    (engine,) = [r for r in health.json() if r["component"] == "engine" and "line" not in r]
    expected = (f'carbonline_accepted{{component="engine",line="",site="{served.site}"}} '
                f'{float(engine["accepted"])}')
    assert expected in metrics.text.splitlines()
    assert f'carbonline_last_reading_age_s{{component="engine",line="l1",site="{served.site}"}}' \
        in metrics.text


def test_open_alerts_are_listed_until_resolved(served):
    assert get(served, "/api/v1/alerts").json() == []
    firing = AlertRow(served.site, "l1", "cola", served.t0, "l1-cola-1", "firing", "warning",
                      "equipment", "filler", "threshold", 0.9, 0.7, 0.8, 80.0,
                      "filler uses more per unit")
    served.live.view.take([firing])
    (alert,) = get(served, "/api/v1/alerts").json()
    assert (alert["alert_id"], alert["state"], alert["cause"], alert["machine"]) == (
        "l1-cola-1", "firing", "equipment", "filler")
    assert alert["co2e_per_unit_kg"] == 0.9 and alert["message"] == "filler uses more per unit"
    resolved = AlertRow(**{**{f: getattr(firing, f) for f in AlertRow.__slots__},
                           "state": "resolved", "time": served.t0 + MINUTE})
    served.live.view.take([resolved])
    assert get(served, "/api/v1/alerts").json() == []


def test_a_202_means_the_readings_are_in_the_state_store_log(mosquitto, influxdb, tmp_path):
    """With ``[run] state_dir`` the answer waits until the batch is logged: a crash right
    after a 202 loses nothing (the next start replays the log)."""
    with serve(mosquitto, influxdb, state_dir=tmp_path) as served:
        store = served.live.store
        logged_by_run = store.log

        def slow_disk(batch) -> None:  # a slow disk: the answer must still wait for it
            time.sleep(0.5)
            logged_by_run(batch)

        store.log = slow_disk
        items = minutes(served.t0, 0, 2)
        response = httpx.post(f"{served.url}/api/v1/readings", json={"readings": items},
                              headers=served.headers, timeout=30)
        assert response.status_code == 202 and response.json()["accepted"] == len(items)
        # read by a second connection to the store, as the next start would
        _, logged = StateStore(tmp_path, served.live.plant).restore(get_manager(), time.time_ns)
    readings = np.concatenate([batch.readings for batch in logged])
    numbers = [item for item in items if item["meter"] in ("e1", "u1")]
    assert sorted(readings["value"]) == sorted(item["value"] for item in numbers)
    assert sorted(e.text for batch in logged for e in batch.context) == ["A-1", "cola"]
