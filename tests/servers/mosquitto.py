"""A real Mosquitto broker (Debian ``mosquitto``) on a free loopback port.

The session broker is shared (tests use their own topics); :func:`start_mosquitto` starts a
private one for tests that stop and restart the broker. Persistence lives in a temp dir, so a
restarted broker keeps persistent sessions and their queued QoS 1 messages, as a plant's does.
Run as root, Mosquitto drops to user ``mosquitto`` and exits when that user does not exist
(stack notes), hence ``user root``.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._common import debian_binary, free_ports, stop, wait_until

CONFIG = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {root}/
autosave_interval 1
max_queued_messages 100000
log_dest file {root}/mosquitto.log
log_type error
log_type warning
"""


@dataclass
class Mosquitto:
    """A running broker: ``url`` is ``mqtt://127.0.0.1:PORT``; ``restart()`` keeps the port and
    the persisted sessions."""

    port: int
    root: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = debian_binary("mosquitto", "mosquitto", "CARBONLINE_MOSQUITTO")
        config = self.root / "mosquitto.conf"
        text = CONFIG.format(port=self.port, root=self.root)
        if os.geteuid() == 0:
            text += "user root\n"
        config.write_text(text)
        log = self.root / "stdout.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen([str(binary), "-c", str(config)], stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: _accepts(self.port), self.process, self.root / "mosquitto.log",
                   f"mosquitto ({binary})")

    def stop(self) -> None:
        stop(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def start_mosquitto(root: Path) -> Mosquitto:
    """Start a broker on a free port with its config, log and persistence under ``root``."""
    (port,) = free_ports(1)
    broker = Mosquitto(port, root, None)  # type: ignore[arg-type]  # set by start()
    broker.start()
    return broker


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """The session's broker."""
    broker = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    try:
        yield broker
    finally:
        broker.stop()
