"""A real Mosquitto broker (Debian ``mosquitto``) on a free loopback port.

The session broker is shared (tests use their own topics); :func:`start_mosquitto` starts a
private one for tests that stop and restart the broker. Persistence lives in a temp dir, so a
restarted broker keeps persistent sessions and their queued QoS 1 messages, as a plant's does.
Run as root, Mosquitto drops to user ``mosquitto`` and exits when that user does not exist
(stack notes), hence ``user root``. Unlike influxd, mosquitto links to libraries of other
Debian packages (libmosquitto1, libcjson1…), so the no-root unpack needs them present: CI runs
as root and installs the package with its dependencies.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ._common import debian_binary, free_ports, stop, wait_until

CONFIG = """\
listener {port} 127.0.0.1
persistence true
persistence_location {root}/
autosave_interval 1
max_queued_messages {max_queued}
log_dest file {root}/mosquitto.log
log_type error
log_type warning
"""


@dataclass
class Mosquitto:
    """A running broker: ``url`` is ``mqtt://127.0.0.1:PORT`` (``mqtts://`` with TLS);
    ``restart()`` keeps the port and the persisted sessions. With ``users`` only they may
    connect; with ``tls`` the listener speaks TLS with a certificate for 127.0.0.1 signed by
    the CA at ``root/ca.pem``."""

    port: int
    root: Path
    process: subprocess.Popen | None = None
    users: dict[str, str] = field(default_factory=dict)
    tls: bool = False
    max_queued: int = 100_000

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    def start(self) -> None:
        binary = debian_binary("mosquitto", "mosquitto", "CARBONLINE_MOSQUITTO")
        config = self.root / "mosquitto.conf"
        text = CONFIG.format(port=self.port, root=self.root, max_queued=self.max_queued)
        if self.users:
            passwords = self.root / "passwords"
            passwords.write_text("")
            for user, password in self.users.items():
                subprocess.run([str(binary.parent.parent / "bin" / "mosquitto_passwd"), "-b",
                                str(passwords), user, password], check=True)
            text += f"allow_anonymous false\npassword_file {passwords}\n"
        else:
            text += "allow_anonymous true\n"
        if self.tls:
            _certificates(self.root)
            text += (f"cafile {self.ca}\ncertfile {self.root}/server.pem\n"
                     f"keyfile {self.root}/server.key\n")
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
        if self.process is not None:
            stop(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def _certificates(root: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1 it signs (openssl, in ``root``)."""
    if (root / "server.pem").exists():
        return
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=root, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=carbonline test CA", "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
            "server.key", "-out", "server.csr")
    (root / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.pem")


def start_mosquitto(root: Path, users: dict[str, str] | None = None, tls: bool = False,
                    max_queued: int = 100_000) -> Mosquitto:
    """Start a broker on a free port with its config, log and persistence under ``root``;
    ``max_queued`` QoS 1 messages are kept per absent persistent session."""
    (port,) = free_ports(1)
    broker = Mosquitto(port, root, users=users or {}, tls=tls, max_queued=max_queued)
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
