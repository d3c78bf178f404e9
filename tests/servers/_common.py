"""Shared plumbing for fixtures that run a real server (InfluxDB now; Mosquitto, VictoriaMetrics,
Node-RED later) on loopback: find or install its binary, pick free ports, wait for it, stop it.

Tests run against the real programs a plant runs, not mocks, so a fresh Debian machine must get
them without any step outside ``bash scripts/test.sh``. A server binary is looked up in order:

1. ``$CARBONLINE_<PROGRAM>`` (e.g. ``CARBONLINE_INFLUXD``), a name or path to use instead of the
   Debian one (an error if it names no program);
2. the program on ``PATH`` (a plant or developer machine that already has it);
3. ``<repo>/.cache/servers/<package>/``, the package unpacked by ``dpkg -x`` on an earlier run;
4. installing it: ``apt-get install`` when root, else ``apt-get download`` + ``dpkg -x`` into
   that cache (the Debian server binaries need only libc, so no root is needed).

``CARBONLINE_SERVERS=cache`` skips steps 2 and 4's ``apt-get install``, and
``CARBONLINE_SERVERS_CACHE=DIR`` moves the cache: together they exercise the no-root install on
a machine that already has the servers.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def debian_binary(package: str, program: str, env_var: str) -> Path:
    """Path of ``program`` from Debian ``package``, installing the package when it is missing."""
    override = os.environ.get(env_var)
    if override:  # a typo here must not silently fall back to another influxd
        found = shutil.which(override)
        if not found:
            raise RuntimeError(f"${env_var}={override!r} is not an executable program")
        return Path(found)
    cache_only = os.environ.get("CARBONLINE_SERVERS") == "cache"
    unpacked = cache_dir() / package
    in_cache = [unpacked / "usr" / "bin" / program, unpacked / "usr" / "sbin" / program]
    on_path = [] if cache_only else [shutil.which(program)]
    for found in [*on_path, *in_cache]:
        if found and os.access(found, os.X_OK):
            return Path(found)
    if os.geteuid() == 0 and not cache_only:
        _apt("install", "-y", "-o", "DPkg::Lock::Timeout=120", "--no-install-recommends",
             package)
        candidates = [shutil.which(program)]
    else:
        _unpack(package, unpacked)
        candidates = in_cache
    for found in candidates:
        if found and os.access(found, os.X_OK):
            return Path(found)
    raise RuntimeError(f"Debian package {package!r} was installed but has no {program!r}")


def cache_dir() -> Path:
    """Where packages are unpacked without root: in the repo (git-ignored), or as overridden."""
    return Path(os.environ.get("CARBONLINE_SERVERS_CACHE") or REPO / ".cache" / "servers")


def _apt(*args: str, cwd: Path | None = None) -> None:
    """Run ``apt-get -q ARGS``; if it fails as root, refresh the package lists once and retry
    (a fresh machine or container often has none). Failures raise with apt's own output."""
    run = functools.partial(subprocess.run, env=APT_ENV, capture_output=True, text=True)
    result = run(["apt-get", "-q", *args], cwd=cwd)
    if result.returncode and os.geteuid() == 0:
        result = run(["apt-get", "-q", "update"])
        if result.returncode == 0:
            result = run(["apt-get", "-q", *args], cwd=cwd)
    if result.returncode:
        raise RuntimeError(f"{' '.join(result.args)} failed:\n{result.stdout}{result.stderr}")


def _unpack(package: str, target: Path) -> None:
    """``apt-get download`` + ``dpkg -x`` into ``target`` through a temporary sibling renamed
    into place, so an interrupted run never leaves a half-unpacked cache that looks complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{package}-") as tmp:
        work = Path(tmp)
        _apt("download", package, cwd=work)
        (deb,) = work.glob(f"{package}_*.deb")
        subprocess.run(["dpkg", "-x", str(deb), str(work / "root")], check=True)
        shutil.rmtree(target, ignore_errors=True)
        (work / "root").rename(target)


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback TCP ports that were free a moment ago. The OS picks them, so
    parallel runs don't clash; all are held open together, so none is handed out twice."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def log_tail(log: Path, lines: int = 30) -> str:
    """The end of a server's log: the part that says why it did not come up."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(ready: Callable[[], bool], process: subprocess.Popen, log: Path, what: str,
               timeout: float = 30.0) -> None:
    """Poll ``ready()`` (exceptions count as not ready: the port may not be open yet) until true.
    Fails fast, with the log tail, when the process dies, and after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except Exception:  # noqa: BLE001 - connection refused and the like, while starting
            pass
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before it was "
                               f"ready; log {log}:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout:.0f} s; log {log}:\n"
                               f"{log_tail(log)}")
        time.sleep(0.05)


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate a server, killing it if it does not exit within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
