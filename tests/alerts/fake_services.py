"""Local stand-ins for PagerDuty, Opsgenie, a Teams workflow and Twilio: threading HTTP servers on 127.0.0.1 that
check each request against the service's documented shape and answer as the service does (its success code and
body, or its error). A test points the channel's base URL setting (or the Teams URL) at one.

Each service keeps what a real one would: PagerDuty its incidents by `dedup_key`, Opsgenie its open alerts by
`alias` with a count, Twilio its messages. `script` lists status codes to answer first instead (0: answer normally),
to make the service fail for a while.
"""

import base64
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode(), strict_parsing=True))


@dataclass
class FakeService:
    base_url: str = ""
    script: list[int] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    accepted: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, seen: Seen) -> tuple[int, dict]:
        raise NotImplementedError

    def handle(self, seen: Seen) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(seen)
            scripted = self.script.pop(0) if self.script else 0
            if scripted:
                return scripted, {"message": "scripted failure"}
            code, body = self.answer(seen)
            if code < 300:
                self.accepted.append(seen)
            return code, body


@dataclass
class FakePagerDuty(FakeService):
    """Events API v2: POST /v2/enqueue, JSON, the routing key in the body; 202 with the dedup key."""

    routing_keys: set[str] = field(default_factory=set)
    incidents: dict[str, list[dict]] = field(default_factory=dict)

    def answer(self, seen):
        if seen.path != "/v2/enqueue":
            return 404, {"message": "Not found"}
        if seen.headers.get("Content-Type") != "application/json":
            return 400, {"status": "invalid event", "message": "Content-Type must be application/json"}
        event = seen.json()
        errors = self._errors(event)
        if errors:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        self.incidents.setdefault(event["dedup_key"], []).append(event)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}

    def _errors(self, event: dict) -> list[str]:
        payload = event.get("payload") or {}
        checks = [
            (event.get("routing_key") in self.routing_keys, "'routing_key' is invalid"),
            (event.get("event_action") in ("trigger", "acknowledge", "resolve"), "'event_action' is invalid"),
            (0 < len(event.get("dedup_key") or "") <= 255, "'dedup_key' must be 1 to 255 characters"),
            (0 < len(payload.get("summary") or "") <= 1024, "'payload.summary' is missing or too long"),
            (bool(payload.get("source")), "'payload.source' is missing"),
            (payload.get("severity") in ("critical", "error", "warning", "info"), "'payload.severity' is invalid"),
        ]
        return [message for ok, message in checks if not ok]


@dataclass
class FakeOpsgenie(FakeService):
    """Alert API: POST /v2/alerts, `Authorization: GenieKey <key>`, JSON; 202 with a request id. An alert whose
    alias matches an open one is counted on it, not created (no new notification)."""

    api_key: str = ""
    open_alerts: dict[str, dict] = field(default_factory=dict)

    def answer(self, seen):
        if seen.path != "/v2/alerts":
            return 404, {"message": "Not found"}
        if seen.headers.get("Authorization") != f"GenieKey {self.api_key}":
            return 422, {"message": "Key format is not valid!", "took": 0.0, "requestId": "r0"}
        alert = seen.json()
        problem = self._problem(alert)
        if problem:
            return 422, {"message": problem, "took": 0.0, "requestId": "r0"}
        existing = self.open_alerts.get(alert["alias"])
        if existing is None:
            self.open_alerts[alert["alias"]] = {"alert": alert, "count": 1}
        else:
            existing["count"] += 1
        return 202, {"result": "Request will be processed", "took": 0.1, "requestId": f"r{len(self.requests)}"}

    @staticmethod
    def _problem(alert: dict) -> str:
        if not 0 < len(alert.get("message") or "") <= 130:
            return "Message can not be empty or longer than 130 characters."
        if len(alert.get("alias") or "") > 512:
            return "Alias can not be longer than 512 characters."
        if alert.get("priority") not in ("P1", "P2", "P3", "P4", "P5"):
            return "Priority should be one of [P1, P2, P3, P4, P5]."
        if not all(isinstance(value, str) for value in (alert.get("details") or {}).values()):
            return "Details values must be strings."
        return ""


@dataclass
class FakeTeamsWorkflow(FakeService):
    """A Workflows "When a Teams webhook request is received" trigger: its URL carries `sig`; the body is a message
    with Adaptive Card attachments; 202."""

    signature: str = "s3cr3t-sig"

    @property
    def workflow_url(self) -> str:
        return f"{self.base_url}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig={self.signature}"

    def answer(self, seen):
        if seen.path != "/workflows/abc/triggers/manual/paths/invoke":
            return 404, {"error": {"code": "NotFound"}}
        if seen.query.get("sig") != [self.signature]:
            return 401, {"error": {"code": "DirectApiAuthorizationRequired"}}
        message = seen.json()
        attachments = message.get("attachments") or []
        cards_ok = attachments and all(
            a.get("contentType") == "application/vnd.microsoft.card.adaptive"
            and a.get("content", {}).get("type") == "AdaptiveCard"
            and a["content"].get("version")
            and isinstance(a["content"].get("body"), list)
            for a in attachments
        )
        if message.get("type") != "message" or not cards_ok:
            return 400, {"error": {"code": "InvalidRequestContent"}}
        return 202, {}


@dataclass
class FakeTwilio(FakeService):
    """Messages resource: POST /2010-04-01/Accounts/<SID>/Messages.json, basic auth (SID, token), form-encoded To,
    From (or MessagingServiceSid) and Body; 201 with the message."""

    account_sid: str = "AC" + "0" * 32
    auth_token: str = "f" * 32

    def answer(self, seen):
        if seen.path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if seen.headers.get("Authorization") != expected:
            return 401, {"code": 20003, "message": "Authentication Error - invalid username", "status": 401}
        if seen.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return 400, {"code": 20001, "message": "Unsupported content type", "status": 400}
        fields = seen.form()
        if not E164.match(fields.get("To", "")):
            return 400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
        if not (fields.get("From") or fields.get("MessagingServiceSid")) or not 0 < len(fields.get("Body", "")) <= 1600:
            return 400, {"code": 21602, "message": "Message body is required", "status": 400}
        return 201, {"sid": f"SM{len(self.accepted):032x}", "status": "queued", "to": fields["To"]}

    def texts(self) -> list[dict[str, str]]:
        return [seen.form() for seen in self.accepted]


def _handler_for(service: FakeService):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            parsed = urllib.parse.urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen = Seen(parsed.path, urllib.parse.parse_qs(parsed.query), dict(self.headers), body)
            code, answer = service.handle(seen)
            data = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


def serve(service: FakeService) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(service))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    service.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
