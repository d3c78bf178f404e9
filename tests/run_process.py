"""``carbonline run`` as a process, for tests that stop, kill and restart it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx


def start_run(config: Path, port: int, *sources: str,
              args: tuple[str, ...] = ()) -> subprocess.Popen:
    """Start ``carbonline run --config`` (plus ``args``) and return once its /health (on
    ``port``) shows each of ``sources`` subscribed: a new MQTT session only gets what is
    published after that."""
    process = subprocess.Popen([sys.executable, "-m", "carbonline", "run", "--config",
                                str(config), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90  # a restart may first drain what its session queued
    while True:
        assert process.poll() is None, process.communicate()[1]
        try:
            rows = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
        except httpx.HTTPError:
            rows = []
        done = {r["component"] for r in rows if r.get("subscribed")}
        if {f"source {url}" for url in sources} <= done:
            return process
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"carbonline run never subscribed to {sources}; health "
                                 f"{rows}; stderr {process.communicate()[1][-2000:]}")
        time.sleep(0.2)
