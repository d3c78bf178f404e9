"""The peer: a straightforward pandas implementation of the same KPI on the same readings.

Per line and per 1-minute and 15-minute window (UTC-aligned):

- kWh of each power meter: trapezoids between consecutive samples (groupby meter, diff of time,
  mean of consecutive kW), samples further apart than 5 minutes not bridged;
- good units: differences of the line's counter;
- every interval that crosses a minute edge is split pro rata to time across the two minutes
  (carbonline shares every increment over the base intervals it spans the same way; without
  this the per-window numbers would differ by the piece that straddles each edge);
- the shared chiller's kWh is allocated to lines minute by minute in proportion to the good
  units each line made in that minute (equal shares in a minute where no line made any);
- CO₂e = kWh × the grid factor (one constant); kg CO₂e/unit = Σ CO₂e / Σ units per window.

It also produces per machine kWh and CO₂e for the ``MACHINE_WINDOWS`` (15m), as carbonline's
``carbon_machine`` rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .generate import MACHINE_WINDOWS

NS_PER_S = 1_000_000_000
NS_PER_H = 3600 * NS_PER_S
MAX_GAP_NS = 300 * NS_PER_S  # carbonline's default power ``max_gap``


def read_line_protocol(path: Path, meta: dict) -> pd.DataFrame:
    """A simple parse of one-field-per-line protocol into (meter, time, value) rows."""
    raw = pd.read_csv(path, sep=" ", header=None, names=["series", "field", "time"],
                      dtype={"series": str, "field": str, "time": np.int64}, engine="c")
    field = raw["field"].str.split("=", n=1, expand=True)
    series = raw["series"] + " " + field[0]
    index = {f"{m['series']} {m['field']}": i for i, m in enumerate(meta["meters"])}
    meter = series.map(index)
    known = meter.notna()
    return pd.DataFrame({"meter": meter[known].astype(np.int32),
                         "time": raw["time"][known],
                         "value": field[1][known].astype(np.float64)})


def kpi(df: pd.DataFrame, meta: dict) -> dict[str, pd.DataFrame]:
    """Line and machine tables for windows ``1m`` and ``15m``; see the module docstring."""
    res = meta["resolution_s"] * NS_PER_S
    ef = meta["grid_kg_per_kwh"]
    meters = pd.DataFrame(meta["meters"])
    lines = sorted(meters["line"].dropna().unique())

    df = df.sort_values(["meter", "time"], kind="stable")
    g = df.groupby("meter", sort=False)
    # shift with a fill value keeps int64 times: a plain shift() makes them float64, whose
    # spacing at today's epoch nanoseconds is 256 ns (1e-8 errors in minute splits)
    prev_time = g["time"].shift(fill_value=-1)
    prev_value = g["value"].shift()
    role = meters["role"].to_numpy()[df["meter"].to_numpy()]
    dt = df["time"] - prev_time
    power = role == "power"
    amount = np.where(power, (prev_value + df["value"]) / 2 * dt / NS_PER_H,
                      df["value"] - prev_value)
    use = (prev_time >= 0) & ~(power & (dt > MAX_GAP_NS))
    inc = pd.DataFrame({"meter": df["meter"], "start": prev_time, "end": df["time"],
                        "amount": amount})[use]

    # share each interval over the minutes it spans (1 Hz data: never more than two)
    first = inc["start"] // res
    last = (inc["end"] - 1) // res
    if ((last - first) > 1).any():
        raise ValueError("an interval spans more than two minutes; the peer assumes it does not")
    crosses = last != first
    head = np.where(crosses, (last * res - inc["start"]) / (inc["end"] - inc["start"]), 1.0)
    pieces = pd.concat([
        pd.DataFrame({"meter": inc["meter"], "bin": first, "amount": inc["amount"] * head}),
        pd.DataFrame({"meter": inc["meter"], "bin": last, "amount": inc["amount"] * (1 - head)})[
            crosses],
    ])
    cells = pieces.groupby(["meter", "bin"], as_index=False)["amount"].sum()
    cells = cells.merge(meters[["role", "machine", "line"]], left_on="meter", right_index=True)

    energy = cells[cells["role"] == "power"]
    own = energy[energy["line"].notna()]
    chiller = energy[energy["line"].isna()].groupby("bin")["amount"].sum()
    units = (cells[cells["role"] == "units_counter"]
             .pivot_table(index="bin", columns="line", values="amount", aggfunc="sum",
                          fill_value=0.0)
             .reindex(columns=lines, fill_value=0.0))
    units = units.reindex(units.index.union(chiller.index), fill_value=0.0)

    # the chiller, allocated minute by minute by good units
    total = units.sum(axis=1)
    weights = units.div(total.where(total > 0), axis=0).fillna(1.0 / len(lines))
    allocated = weights.loc[chiller.index].mul(chiller, axis=0)
    allocated = allocated.stack().rename("amount").reset_index()  # bin, line, amount
    allocated = allocated[allocated["amount"] != 0]

    line_kwh = pd.concat([own[["line", "bin", "amount"]],
                          allocated[["line", "bin", "amount"]]]).groupby(["line", "bin"])[
        "amount"].sum()
    line_units = units.stack().rename("good_units")
    line_units.index = line_units.index.swaplevel()
    m1 = pd.concat([line_kwh.rename("electricity_kwh"), line_units], axis=1).fillna(0.0)
    m1.index.names = ["line", "bin"]
    m1["co2e_kg"] = m1["electricity_kwh"] * ef

    machine = pd.concat([
        own[["line", "machine", "bin", "amount"]],
        allocated.assign(machine="chiller")[["line", "machine", "bin", "amount"]],
    ]).rename(columns={"amount": "energy_kwh"})
    machine["co2e_kg"] = machine["energy_kwh"] * ef

    out = {}
    for name, size in (("1m", 1), ("15m", 15)):
        w = m1.reset_index()
        w["start"] = (w["bin"] // size) * size * res
        table = w.groupby(["line", "start"])[["electricity_kwh", "co2e_kg", "good_units"]].sum()
        table["co2e_per_unit_kg"] = table["co2e_kg"] / table["good_units"].where(
            table["good_units"] > 0)
        out[f"line_{name}"] = table
        if name in MACHINE_WINDOWS:
            mw = machine.assign(start=(machine["bin"] // size) * size * res)
            out[f"machine_{name}"] = mw.groupby(["line", "machine", "start"])[
                ["energy_kwh", "co2e_kg"]].sum()
    return out


def write_line_protocol(tables: dict[str, pd.DataFrame], path: Path, site: str) -> int:
    """``carbon_intensity`` and ``carbon_machine`` rows, as plain text; returns rows written."""
    parts = []
    for name in ("1m", "15m"):
        t = tables[f"line_{name}"].reset_index()
        text = ("carbon_intensity,site=" + site + ",line=" + t["line"] + ",sku=unknown,window="
                + name + " electricity_kwh=" + t["electricity_kwh"].astype(str)
                + ",co2e_kg=" + t["co2e_kg"].astype(str)
                + ",good_units=" + t["good_units"].astype(str))
        per_unit = t["co2e_per_unit_kg"]
        text = text + np.where(per_unit.notna(), ",co2e_per_unit_kg=" + per_unit.astype(str), "")
        parts.append(text + " " + t["start"].astype(str))
        if name not in MACHINE_WINDOWS:
            continue
        m = tables[f"machine_{name}"].reset_index()
        parts.append("carbon_machine,site=" + site + ",line=" + m["line"] + ",machine="
                     + m["machine"] + ",sku=unknown,window=" + name + " energy_kwh="
                     + m["energy_kwh"].astype(str) + ",co2e_kg=" + m["co2e_kg"].astype(str)
                     + " " + m["start"].astype(str))
    rows = pd.concat(parts, ignore_index=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(rows.tolist()))
        fh.write("\n")
    return len(rows)
