"""carbonline's benchmark: throughput, peak memory and a pandas peer, on generated data.

Run from the repository root::

    .venv/bin/python -m benchmarks.run            # 10 M readings over 1,000 meters (~1.5 min)
    .venv/bin/python -m benchmarks.run --quick    # ~200 k readings, a smoke run

Each measurement runs in its own subprocess so its peak RSS is its own (``os.wait4``):

1. carbonline core: ``Engine.ingest`` over pre-built READING batches, pinned to one CPU;
   parsing excluded, ``flush()`` included;
2. carbonline LP→LP: ``python -m carbonline replay --config … --input gen.lp --output out.lp``;
3. pandas core: the peer (:mod:`benchmarks.peer`) on a DataFrame of the same arrays, one CPU;
4. pandas LP→LP: the peer reading the same line-protocol file and writing line protocol.

Then the two are checked against each other (total kWh, per line and 15-minute window kWh,
good units and kg CO₂e/unit; the same at 1 minute), and a markdown table is printed and saved
to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .generate import DATA_DIR, DataSet, Spec, generate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.md"
CORE_TARGET = 2_000_000
FILE_TARGET = 300_000
TOLERANCE = 1e-6
ONE_CORE_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _int(text: str) -> int:
    return int(text.replace("_", "").replace(",", ""))


# --- workers (each runs in its own process) --------------------------------------------------


def _manager():
    """The plugin manager; without the file source/sink (not written yet) just the factors."""
    try:
        from carbonline.plugins import get_manager

        return get_manager()
    except ImportError:
        import pluggy
        from carbonline import hookspecs
        from carbonline.factors import providers

        pm = pluggy.PluginManager("carbonline")
        pm.add_hookspecs(hookspecs)
        pm.register(providers, name="carbonline.factors.providers")
        return pm


def _pin_one_cpu() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _intensity_arrays(rows, lines: tuple[str, ...]) -> dict[str, np.ndarray]:
    from carbonline.records import IntensityRow

    line_ix = {name: i for i, name in enumerate(lines)}
    picked = [r for r in rows if isinstance(r, IntensityRow) and r.window.kind in ("1m", "15m")]
    return {
        "window": np.array([15 if r.window.kind == "15m" else 1 for r in picked], np.int64),
        "line": np.array([line_ix[r.line] for r in picked], np.int64),
        "start": np.array([r.window.start for r in picked], np.int64),
        "electricity_kwh": np.array([r.electricity_kwh for r in picked]),
        "co2e_kg": np.array([r.co2e_kg for r in picked]),
        "good_units": np.array([r.good_units for r in picked]),
        "revision": np.array([r.revision for r in picked], np.int64),
    }


def worker_core(ds: DataSet, batch: int, out: Path, limit: int | None) -> dict:
    _pin_one_cpu()
    from carbonline.cli import tune_gc
    from carbonline.config import load_config
    from carbonline.engine.accumulator import Engine
    from carbonline.plant import build_plant
    from carbonline.records import IntensityRow, ReadingBatch

    tune_gc()  # the engine as every carbonline command runs it
    plant = build_plant(load_config(ds.plant_toml))
    readings = np.load(ds.readings_npy)
    if limit:
        readings = readings[:limit]
    batches = [ReadingBatch(readings[i:i + batch]) for i in range(0, len(readings), batch)]
    engine = Engine(plant, _manager())
    kept: list = []  # only what the agreement check needs: a sink would not hold rows either
    n_rows = 0
    began = time.perf_counter()
    for b in batches:
        rows = engine.ingest(b)
        n_rows += len(rows)
        kept += [r for r in rows if isinstance(r, IntensityRow)]
    rows = engine.flush()
    n_rows += len(rows)
    kept += [r for r in rows if isinstance(r, IntensityRow)]
    seconds = time.perf_counter() - began
    np.savez(out, **_intensity_arrays(kept, plant.lines))
    stats = engine.stats
    return {"readings": len(readings), "seconds": seconds, "rows": n_rows,
            "accepted": stats.accepted, "rejected": sum(stats.rejected.values())}


def _pandas_arrays(tables: dict, lines: tuple[str, ...]) -> dict[str, np.ndarray]:
    line_ix = {name: i for i, name in enumerate(lines)}
    parts = []
    for size in (1, 15):
        t = tables[f"line_{size}m"].reset_index()
        t["window"] = size
        parts.append(t)
    import pandas as pd

    t = pd.concat(parts, ignore_index=True)
    return {
        "window": t["window"].to_numpy(np.int64),
        "line": t["line"].map(line_ix).to_numpy(np.int64),
        "start": t["start"].to_numpy(np.int64),
        "electricity_kwh": t["electricity_kwh"].to_numpy(),
        "co2e_kg": t["co2e_kg"].to_numpy(),
        "good_units": t["good_units"].to_numpy(),
    }


def worker_pandas_core(ds: DataSet, out: Path, limit: int | None) -> dict:
    _pin_one_cpu()
    import pandas as pd

    from . import peer

    meta = ds.meta()
    readings = np.load(ds.readings_npy)
    if limit:
        readings = readings[:limit]
    df = pd.DataFrame({"meter": readings["meter"], "time": readings["time"],
                       "value": readings["value"]})
    del readings
    began = time.perf_counter()
    tables = peer.kpi(df, meta)
    seconds = time.perf_counter() - began
    lines = tuple(sorted({m["line"] for m in meta["meters"] if m["line"]}))
    np.savez(out, **_pandas_arrays(tables, lines))
    return {"readings": len(df), "seconds": seconds,
            "rows": sum(len(t) for t in tables.values())}


def worker_pandas_lp(ds: DataSet, out_lp: Path) -> dict:
    from . import peer

    meta = ds.meta()
    began = time.perf_counter()
    df = peer.read_line_protocol(ds.readings_lp, meta)
    tables = peer.kpi(df, meta)
    rows = peer.write_line_protocol(tables, out_lp, "bench")
    seconds = time.perf_counter() - began
    return {"readings": len(df), "seconds": seconds, "rows": rows}


# --- the parent: run the workers, compare, report --------------------------------------------


def _spawn(args: list[str], log: Path, env: dict | None = None) -> tuple[float, float, int]:
    """Run a subprocess; return (wall seconds, its peak RSS in MB, exit status)."""
    began = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - began, usage.ru_maxrss / 1024, proc.returncode


def _worker(name: str, args: argparse.Namespace, extra: list[str], env: dict | None = None):
    work = args.data_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    result = work / f"{name}.json"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.run", "--worker", name, "--result", str(result),
           "--readings", str(args.readings), "--meters", str(args.meters),
           "--meters-per-line", str(args.meters_per_line), "--seed", str(args.seed),
           "--data-dir", str(args.data_dir), "--batch", str(args.batch), *extra]
    wall, rss, code = _spawn(cmd, work / f"{name}.log", env)
    if code != 0 or not result.exists():
        tail = (work / f"{name}.log").read_text()[-3000:]
        raise RuntimeError(f"worker {name} failed (exit {code}):\n{tail}")
    data = json.loads(result.read_text())
    data.update(wall=wall, rss_mb=rss)
    return data


def _file_pipeline_available() -> str | None:
    missing = [m for m in ("carbonline.sources.files", "carbonline.sinks.lineprotocol")
               if importlib.util.find_spec(m) is None]
    return f"not run: {', '.join(missing)} not available yet" if missing else None


def _carbonline_lp(ds: DataSet, args: argparse.Namespace) -> dict:
    work = args.data_dir / "work"
    out = work / "carbonline-out.lp"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "carbonline", "replay", "--config", str(ds.plant_toml),
           "--input", str(ds.readings_lp), "--output", str(out), "--no-progress"]
    wall, rss, code = _spawn(cmd, work / "carbonline-lp.log")
    log = (work / "carbonline-lp.log").read_text()
    if code != 0:
        raise RuntimeError(f"carbonline replay failed (exit {code}):\n{log[-3000:]}")
    accepted = re.search(r"([\d,]+) readings accepted", log)
    rows = re.search(r"([\d,]+) rows written", log)
    return {"readings": ds.meta()["n_readings"], "seconds": wall, "rss_mb": rss, "log": log,
            "out": out, "accepted": int(accepted.group(1).replace(",", "")) if accepted else None,
            "rows": int(rows.group(1).replace(",", "")) if rows else None}


def _parse_intensity_lp(path: Path, lines: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``carbon_intensity`` rows of windows 1m and 15m from a line-protocol file."""
    from line_protocol_parser import parse_line

    line_ix = {name: i for i, name in enumerate(lines)}
    cols: dict[str, list] = {k: [] for k in ("window", "line", "start", "electricity_kwh",
                                              "co2e_kg", "good_units")}
    with open(path, encoding="utf-8") as fh:
        for text in fh:
            if not text.startswith("carbon_intensity,"):
                continue
            point = parse_line(text.rstrip("\n"))
            window = point["tags"].get("window")
            if window not in ("1m", "15m"):
                continue
            f = point["fields"]
            cols["window"].append(15 if window == "15m" else 1)
            cols["line"].append(line_ix[point["tags"]["line"]])
            cols["start"].append(point["time"])
            cols["electricity_kwh"].append(float(f.get("electricity_kwh", 0.0)))
            cols["co2e_kg"].append(float(f.get("co2e_kg", 0.0)))
            cols["good_units"].append(float(f.get("good_units", 0.0)))
    return {k: np.asarray(v) for k, v in cols.items()}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    return float(np.max(np.where(scale > 0, diff / np.where(scale > 0, scale, 1), 0.0)))


def compare(ours: dict[str, np.ndarray], peer: dict[str, np.ndarray]) -> dict:
    """Max relative differences between carbonline's and the peer's line windows.

    Where a line × window exists on one side only it must be all zeros on that side.
    """
    import pandas as pd

    a = pd.DataFrame(ours).groupby(["window", "line", "start"])[
        ["electricity_kwh", "co2e_kg", "good_units"]].sum()  # revisions: none expected
    b = pd.DataFrame(peer).set_index(["window", "line", "start"])[
        ["electricity_kwh", "co2e_kg", "good_units"]]
    both = a.merge(b, how="outer", left_index=True, right_index=True,
                   suffixes=("_c", "_p")).fillna(0.0)
    result = {"windows_carbonline": len(a), "windows_pandas": len(b),
              "only_one_side": int(len(both) - len(a.index.intersection(b.index)))}
    for size in (15, 1):
        w = both.loc[size]
        key = f"{size}m"
        result[f"total_kwh_{key}"] = (float(w["electricity_kwh_c"].sum()),
                                      float(w["electricity_kwh_p"].sum()))
        result[f"total_kwh_rel_{key}"] = _rel(w["electricity_kwh_c"].sum(),
                                              w["electricity_kwh_p"].sum())
        result[f"kwh_rel_{key}"] = _rel(w["electricity_kwh_c"], w["electricity_kwh_p"])
        result[f"units_rel_{key}"] = _rel(w["good_units_c"], w["good_units_p"])
        made = (w["good_units_c"] > 0) & (w["good_units_p"] > 0)
        result[f"intensity_rel_{key}"] = _rel(
            w["co2e_kg_c"][made] / w["good_units_c"][made],
            w["co2e_kg_p"][made] / w["good_units_p"][made])
        result[f"intensity_windows_{key}"] = int(made.sum())
    result["ok"] = all(result[k] <= TOLERANCE for k in result if "_rel_" in k)
    return result


def _fmt_rate(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def render(spec: Spec, rows: list[dict], checks: dict[str, dict], notes: list[str],
           command: str) -> str:
    head = ("| run | readings | seconds | readings/s | peak RSS MB | ratio vs pandas | target "
            "| met? |\n|---|---:|---:|---:|---:|---:|---:|:---:|")
    body = []
    for r in rows:
        if r.get("skipped"):
            dashes = " | ".join(["—"] * 5)
            body.append(f"| {r['name']} | {dashes} | {r['target']} | {r['skipped']} |")
            continue
        ratio = r.get("ratio")
        body.append(
            f"| {r['name']} | {r['readings']:,} | {r['seconds']:.2f} | {_fmt_rate(r['rate'])} "
            f"| {r['rss_mb']:,.0f} | {'—' if ratio is None else f'{ratio:.2f}×'} "
            f"| {r['target']} | {r['met']} |")
    lines = [
        "# carbonline benchmark results",
        "",
        f"`{command}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{_machine()}",
        "",
        f"Data: {spec.readings:,}+ readings generated (seed {spec.seed}): {spec.meters:,} machine "
        f"power meters on {spec.lines} lines ({spec.meters_per_line} per line), a shared chiller "
        f"allocated by good units, {spec.lines} good-unit counters; 1 Hz, unsynchronised, "
        f"~0.2 % samples dropped; {spec.seconds:,} s of plant time.",
        "",
        head, *body, "",
        "Agreement with the pandas peer (max relative difference; tolerance "
        f"{TOLERANCE:g}):", "",
        "| comparison | total kWh (15m) | per line × 15m kWh | units | kg CO₂e/unit "
        "| per line × 1m kWh | units | kg CO₂e/unit | windows compared (15m / 1m) | ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for name, c in checks.items():
        if "skipped" in c:
            lines.append(f"| {name} | {' | '.join(['—'] * 8)} | {c['skipped']} |")
            continue
        lines.append(
            f"| {name} | {c['total_kwh_rel_15m']:.1e} | {c['kwh_rel_15m']:.1e} "
            f"| {c['units_rel_15m']:.1e} | {c['intensity_rel_15m']:.1e} | {c['kwh_rel_1m']:.1e} "
            f"| {c['units_rel_1m']:.1e} | {c['intensity_rel_1m']:.1e} "
            f"| {c['intensity_windows_15m']:,} / {c['intensity_windows_1m']:,} "
            f"| {'yes' if c['ok'] else 'NO'} |")
    lines += ["", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


def _machine() -> str:
    cpu = ""
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy
    import pandas

    return (f"{os.cpu_count()} CPUs ({cpu or platform.machine()}), Python "
            f"{platform.python_version()}, numpy {numpy.__version__}, pandas {pandas.__version__}")


def main_parent(args: argparse.Namespace) -> int:
    spec = Spec(args.readings, args.meters, args.meters_per_line, args.seed)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    ds = generate(spec, args.data_dir, log=lambda m: print(m, flush=True))
    meta = ds.meta()
    n = meta["n_readings"]
    lines = tuple(sorted({m["line"] for m in meta["meters"] if m["line"]}))
    work = args.data_dir / "work"
    print(f"data: {ds.dir} ({n:,} readings)", flush=True)

    print("carbonline core …", flush=True)
    core = _worker("core", args, [], ONE_CORE_ENV)
    print(f"  {core['readings']:,} readings in {core['seconds']:.2f} s", flush=True)
    print("pandas core …", flush=True)
    pcore = _worker("pandas-core", args, [], ONE_CORE_ENV)
    print(f"  {pcore['readings']:,} readings in {pcore['seconds']:.2f} s", flush=True)

    checks = {"carbonline core vs pandas core": compare(
        dict(np.load(work / "core.npz")), dict(np.load(work / "pandas-core.npz")))}

    skipped = _file_pipeline_available()
    lp = plp = None
    if skipped is None:
        print("carbonline LP→LP …", flush=True)
        lp = _carbonline_lp(ds, args)
        print(f"  {lp['readings']:,} readings in {lp['seconds']:.2f} s", flush=True)
    print("pandas LP→LP …", flush=True)
    plp = _worker("pandas-lp", args, [])
    plp["seconds"] = plp["wall"]  # file to file: the whole process, like the carbonline CLI run
    print(f"  {plp['readings']:,} readings in {plp['seconds']:.2f} s", flush=True)
    if lp is not None:
        checks["carbonline LP→LP vs pandas LP→LP"] = compare(
            _parse_intensity_lp(lp["out"], lines),
            _parse_intensity_lp(work / "pandas-lp.lp", lines))
    else:
        checks["carbonline LP→LP vs pandas LP→LP"] = {"skipped": "not run"}

    def row(name, r, target, goal, peer_rate):
        if r is None:
            return {"name": name, "target": target, "skipped": skipped}
        rate = r["readings"] / r["seconds"]
        out = {"name": name, "readings": r["readings"], "seconds": r["seconds"], "rate": rate,
               "rss_mb": r["rss_mb"], "target": target}
        out["ratio"] = rate / peer_rate if peer_rate else 1.0
        out["met"] = "—" if goal is None else ("yes" if rate >= goal else "**no**")
        return out

    p_core_rate = pcore["readings"] / pcore["seconds"]
    p_lp_rate = plp["readings"] / plp["seconds"]
    rows = [
        row("carbonline core (1 CPU)", core, f"≥ {CORE_TARGET:,}/s", CORE_TARGET, p_core_rate),
        row("carbonline LP→LP", lp, f"≥ {FILE_TARGET:,}/s", FILE_TARGET, p_lp_rate),
        row("pandas core (1 CPU)", pcore, "—", None, None),
        row("pandas LP→LP", plp, "—", None, None),
    ]
    notes = [
        "core rows: `Engine.ingest` over pre-built READING batches of "
        f"{args.batch:,} readings plus `flush()` (parsing excluded), and `peer.kpi` on a "
        "DataFrame of the same arrays; both pinned to one CPU, BLAS threads 1.",
        "LP→LP rows: whole process wall time, interpreter start included; "
        "`python -m carbonline replay --config plant.toml --input readings.lp --output out.lp` "
        f"({ds.readings_lp.stat().st_size / 1e6:,.0f} MB in) vs `peer.read_line_protocol` + "
        "`peer.kpi` + `peer.write_line_protocol`.",
        "peak RSS: the measured process's own `ru_maxrss` (`os.wait4`), including the "
        f"interpreter, imports and, for the core rows, the readings held in memory "
        f"({n * 20 / 2**20:,.0f} MB as READING).",
        f"rows out: carbonline core {core['rows']:,} (intensity 1m/15m/day + machine rows), "
        f"pandas core {pcore['rows']:,} table rows, pandas LP {plp['rows']:,} lines; carbonline "
        f"accepted {core['accepted']:,}, rejected {core['rejected']:,}.",
        "carbonline also does what the peer does not: event-time buffering and release, "
        "per-reading checks and rejection counts, coverage, day windows, revisions of late "
        "data, market-based Scope 2, per-window provenance-ready sums.",
    ]
    if skipped:
        notes.append(f"carbonline LP→LP {skipped}.")
    else:
        notes.append(f"carbonline LP→LP: {lp['accepted']:,} readings accepted, {lp['rows']:,} "
                     f"rows written ({(work / 'carbonline-out.lp').stat().st_size / 1e6:,.0f} MB).")
        if lp["accepted"] != n:
            notes.append(f"**carbonline LP→LP accepted {lp['accepted']:,} of {n:,} readings.**")
    command = "python -m benchmarks.run" + (" --quick" if args.quick else "")
    if not args.quick and (args.readings, args.meters) != (10_000_000, 1000):
        command += f" --readings {args.readings:_} --meters {args.meters}"
    text = render(spec, rows, checks, notes, command)
    print()
    print(text)
    out = args.results or (RESULTS if not args.quick else args.data_dir / "results-quick.md")
    out.write_text(text, encoding="utf-8")
    print(f"saved to {out}; total {time.perf_counter() - began:.0f} s")
    failed = [name for name, c in checks.items() if "ok" in c and not c["ok"]]
    if failed:
        print(f"DISAGREEMENT beyond {TOLERANCE:g}: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="carbonline benchmark (see benchmarks/README.md)")
    parser.add_argument("--readings", type=_int, default=10_000_000)
    parser.add_argument("--meters", type=int, default=1000, help="machine power meters")
    parser.add_argument("--meters-per-line", type=int, default=20)
    parser.add_argument("--seed", type=int, default=Spec.seed)
    parser.add_argument("--batch", type=_int, default=500_000,
                        help="readings per Engine.ingest call (core)")
    parser.add_argument("--quick", action="store_true", help="~200k readings, a smoke run")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--results", type=Path, default=None,
                        help="where to save the table (default benchmarks/results.md; "
                             "--quick: in the data dir)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=_int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.readings = 200_000
    spec = Spec(args.readings, args.meters, args.meters_per_line, args.seed)
    if args.worker:
        ds = DataSet(args.data_dir / spec.key, spec)
        work = args.data_dir / "work"
        if args.worker == "core":
            data = worker_core(ds, args.batch, work / "core.npz", args.limit)
        elif args.worker == "pandas-core":
            data = worker_pandas_core(ds, work / "pandas-core.npz", args.limit)
        elif args.worker == "pandas-lp":
            data = worker_pandas_lp(ds, work / "pandas-lp.lp")
        else:
            raise SystemExit(f"unknown worker {args.worker}")
        args.result.write_text(json.dumps(data))
        return 0
    return main_parent(args)


if __name__ == "__main__":
    sys.exit(main())
