"""Where the core's time goes: wall time per engine phase, and the garbage collector's share.

    .venv/bin/python -m benchmarks.profile_core                  # 10 M readings, default data
    .venv/bin/python -m benchmarks.profile_core --limit 1_000_000 --cprofile

cProfile alone misleads here: numpy calls are lumped into their Python caller and the cyclic
garbage collector's pauses are charged to whatever function happened to allocate. So this wraps
the engine's phase functions with timers (in this process only; no package file is changed) and
times every collection through ``gc.callbacks``. Pinned to one CPU like the core benchmark.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads, as in the benchmark

import argparse
import collections
import functools
import gc
import time

import numpy as np

from .generate import DATA_DIR, Spec, generate
from .run import _int, _manager, _pin_one_cpu

_TIMES: dict[str, float] = collections.defaultdict(float)
_CALLS: collections.Counter[str] = collections.Counter()


def _wrap(owner, name: str, label: str) -> None:
    func = getattr(owner, name)

    @functools.wraps(func)
    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            _TIMES[label] += time.perf_counter() - began
            _CALLS[label] += 1

    setattr(owner, name, timed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=_int, default=10_000_000, help="data set size")
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--limit", type=_int, default=None, help="profile the first N readings")
    parser.add_argument("--batch", type=_int, default=500_000)
    parser.add_argument("--no-gc", action="store_true", help="gc.disable() while ingesting")
    parser.add_argument("--cprofile", action="store_true", help="also print cProfile's top 25")
    parser.add_argument("--data-dir", default=DATA_DIR)
    args = parser.parse_args(argv)
    _pin_one_cpu()

    from carbonline.config import load_config
    from carbonline.engine import accumulator, windows
    from carbonline.plant import build_plant
    from carbonline.records import ReadingBatch

    ds = generate(Spec(args.readings, args.meters), args.data_dir, lp=False)
    plant = build_plant(load_config(ds.plant_toml))
    readings = np.load(ds.readings_npy)[:args.limit]
    batches = [ReadingBatch(readings[i:i + args.batch])
               for i in range(0, len(readings), args.batch)]

    E, W = accumulator.Engine, windows.WindowBook
    _wrap(E, "_check", "Engine._check (validate readings)")
    _wrap(E, "_release", "Engine._release (watermark)")
    _wrap(accumulator, "to_increments", "increments.to_increments")
    _wrap(accumulator, "split_into_bins", "bins.split_into_bins")
    _wrap(accumulator, "_aggregate", "accumulator._aggregate (np.unique per bin×meter)")
    _wrap(E, "_compute", "Calculator.compute (+ factor lookup)")
    _wrap(W, "add", "WindowBook.add")
    _wrap(W, "_accumulate", "  of which WindowBook._accumulate (per window key)")
    _wrap(W, "close", "WindowBook.close")
    _wrap(W, "_row", "  of which WindowBook._row (one Row object each)")
    _wrap(W, "prune", "WindowBook.prune")

    pauses: dict[int, list[float]] = collections.defaultdict(list)
    started: dict[int, float] = {}

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[info["generation"]] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[info["generation"]])

    engine = E(plant, _manager())
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
    gc.callbacks.append(on_gc)
    if args.no_gc:
        gc.disable()
    if profiler:
        profiler.enable()
    began = time.perf_counter()
    rows = 0
    for b in batches:
        rows += len(engine.ingest(b))
    rows += len(engine.flush())
    total = time.perf_counter() - began
    if profiler:
        profiler.disable()
    gc.enable()
    gc.callbacks.remove(on_gc)

    n = len(readings)
    print(f"{n:,} readings in batches of {args.batch:,}: {total:.2f} s, {n / total:,.0f} "
          f"readings/s, {rows:,} rows{' (gc disabled)' if args.no_gc else ''}"
          f"{' (under cProfile)' if profiler else ''}")
    print(f"  {'phase':58} {'s':>6} {'%':>6}  calls")
    for label in sorted(_TIMES, key=lambda k: -_TIMES[k]):
        print(f"  {label:58} {_TIMES[label]:6.2f} {100 * _TIMES[label] / total:5.1f}%  "
              f"{_CALLS[label]:,}")
    gc_total = sum(sum(p) for p in pauses.values())
    detail = ", ".join(f"gen{g}: {len(p)}× {sum(p):.2f} s" for g, p in sorted(pauses.items()))
    print(f"  {'cyclic GC pauses (inside the phases above)':58} {gc_total:6.2f} "
          f"{100 * gc_total / total:5.1f}%  {detail or 'none'}")
    if profiler:
        import pstats

        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
