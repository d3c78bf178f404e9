"""What the flow tests share: a real Node-RED 4.1 with the node packages of
``node_red_flows/package.json`` (installed by npm from that file, cached), started with the
environment a test gives it; carbonline's own deploy puts the flows in. Receivers for what the
flows send out of the plant (a webhook, a mail server) are small local servers here: they are
the plant's endpoints, not stand-ins for carbonline."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from carbonline.nodered.deploy import Action, deploy, load_flows
from servers._common import REPO
from servers.nodered import NodeRed, node_packages, node_red_on

FLOWS = REPO / "node_red_flows"


@pytest.fixture(scope="session")
def flow_nodes() -> Path:
    """The nodesDir holding the flows' node packages (OPC UA, e-mail)."""
    return node_packages(FLOWS / "package.json")


@pytest.fixture
def flow_red(tmp_path: Path, flow_nodes: Path) -> Callable:
    """``with flow_red(env) as red:`` a Node-RED with the flows' packages and ``env``."""
    @contextmanager
    def start(env: dict[str, str]) -> Iterator[NodeRed]:
        root = tmp_path / f"node-red-{time.monotonic_ns()}"
        root.mkdir()
        with node_red_on(root, env, flow_nodes) as red:
            yield red
    return start


def deploy_flow(red: NodeRed, file_name: str, env: dict[str, str] | None = None) -> Action:
    """Deploy one flow file through carbonline's deploy (as ``carbonline node-red deploy``)."""
    (flow,) = [f for f in load_flows(FLOWS) if f.path.name == file_name]
    (action,) = deploy(red.http, [flow], env or {})
    return action


def wait_for(check: Callable[[], object], what: str, timeout: float = 30) -> object:
    """Poll ``check()`` until it gives something true; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.1)


def mqtt_env(mosquitto) -> dict[str, str]:
    return {"CARBONLINE_MQTT_HOST": "127.0.0.1", "CARBONLINE_MQTT_PORT": str(mosquitto.port)}


@contextmanager
def listening(mosquitto, topic: str) -> Iterator[list[tuple[str, dict]]]:
    """(topic, JSON payload) of every message on ``topic`` while inside."""
    heard: list[tuple[str, dict]] = []
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: heard.append((m.topic, json.loads(m.payload)))
    client.on_subscribe = lambda *a: ready.set()
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        assert ready.wait(5)
        yield heard
    finally:
        client.loop_stop()
        client.disconnect()


class Recorder(ThreadingHTTPServer):
    """A plant's webhook receiver: every POST body (JSON) with its headers, answered 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, dict]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server spelling
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.received.append((json.loads(body), dict(self.headers)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class MailServer(socketserver.ThreadingTCPServer):
    """A plant's mail relay: takes SMTP (RFC 5321, no auth, no TLS) and keeps each message's
    recipients and text."""

    daemon_threads = True

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def reply(line: str) -> None:
                    self.wfile.write(line.encode() + b"\r\n")
                reply("220 plant-relay ESMTP")
                recipients: list[str] = []
                while line := self.rfile.readline().decode(errors="replace"):
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        reply("250 plant-relay")
                    elif verb == "RCPT":
                        recipients.append(line.split(":", 1)[1].strip().strip("<>"))
                        reply("250 OK")
                    elif verb == "DATA":
                        reply("354 go ahead")
                        text = []
                        while (part := self.rfile.readline().decode(errors="replace")) != ".\r\n":
                            text.append(part)
                        server.messages.append((recipients, "".join(text)))
                        recipients = []
                        reply("250 queued")
                    elif verb == "QUIT":
                        reply("221 bye")
                        return
                    else:  # MAIL, RSET, NOOP
                        reply("250 OK")

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()

