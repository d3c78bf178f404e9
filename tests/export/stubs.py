"""Local HTTP servers standing in for the platforms the exporters push to.

Salesforce is a third-party cloud API, so (as the house rules allow) it is stood in by a real
HTTP server on loopback replaying the documented answers of the one route the exporter uses,
``POST /services/data/v67.0/composite/sobjects``:

* 200 with one SaveResult per record, ``{"id", "success": true, "errors": []}``, and, when a
  record is refused in an ``allOrNone`` request, that record's error plus
  ``ALL_OR_NONE_OPERATION_ROLLED_BACK`` for every other one — the response bodies of "Create
  Records Using sObject Collections" (REST API Developer Guide,
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_create.htm);
* 401 ``[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]`` for a
  wrong token ("Status Codes and Error Responses", same guide,
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm);
* 404 ``NOT_FOUND`` for any other path (another API version, say).

The webhook receiver is the generic end of a webhook: it keeps what it is sent and answers
with the status a test sets.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOBJECTS_PATH = "/services/data/v67.0/composite/sobjects"
TOKEN = "00Dxx0000000001!stub-access-token"


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """What a stub was sent, and how it should answer."""

    requests: list[Received] = field(default_factory=list)
    #: Salesforce: records whose Name contains this are refused (FIELD_CUSTOM_VALIDATION_EXCEPTION)
    refuse_name: str | None = None
    #: webhook: the status to answer
    status: int = 204


class _Server:
    def __init__(self, answer) -> None:
        self.recorder = Recorder()
        recorder = self.recorder

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.requests.append(Received(self.path, dict(self.headers), body))
                status, reply = answer(recorder, self.path, dict(self.headers), body)
                data = b"" if reply is None else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _salesforce(recorder: Recorder, path: str, headers: dict[str, str], body: bytes):
    if path != SOBJECTS_PATH:
        return 404, [{"errorCode": "NOT_FOUND",
                      "message": "The requested resource does not exist"}]
    if headers.get("Authorization") != f"Bearer {TOKEN}":
        return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    request = json.loads(body)
    records = request["records"]
    refused = [recorder.refuse_name is not None and recorder.refuse_name in r["Name"]
               for r in records]
    if not any(refused):
        return 200, [{"id": f"0Zt{i:015d}", "success": True, "errors": []}
                     for i in range(len(records))]
    results = []
    for bad in refused:
        if bad:
            error = {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                     "message": "Fuel consumption exceeds the asset's plausible range",
                     "fields": ["FuelConsumption"]}
        elif request.get("allOrNone"):
            error = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                     "message": "Record rolled back because not all records were valid and "
                                "the request was using AllOrNone header", "fields": []}
        else:
            error = None
        results.append({"success": False, "errors": [error]} if error else
                       {"id": "0Zt000000000000001", "success": True, "errors": []})
    return 200, results


def _webhook(recorder: Recorder, path: str, headers: dict[str, str], body: bytes):
    return recorder.status, None if recorder.status == 204 else {"error": "receiver says no"}


class SalesforceStub(_Server):
    """The sObject Collections route of a Salesforce org on loopback."""

    def __init__(self) -> None:
        super().__init__(_salesforce)


class WebhookReceiver(_Server):
    """Any URL that takes a POST."""

    def __init__(self) -> None:
        super().__init__(_webhook)
