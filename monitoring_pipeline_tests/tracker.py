"""A real HTTP tracker on 127.0.0.1 for the ticket tests: it answers from a script (timeouts, 503s, 401s, 200s),
records every request, checks each signature, and can be stopped and restarted on the same port (refused)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Tracker:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.script: list[str] = []  # per request: "200", "503", "401", "302", "hang", "trickle", "slow"; empty: 200
        self.requests: list[dict] = []
        self.accepted: dict[str, int] = {}  # idempotency key -> times a 2xx was answered
        self.hang_seconds = 3.0
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tickets"

    def start(self) -> None:
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key, stamp = self.headers["Idempotency-Key"], self.headers["X-MP-Timestamp"]
                expected = (
                    "sha256="
                    + hmac.new(tracker.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                )
                answer = tracker.script.pop(0) if tracker.script else "200"
                tracker.requests.append(
                    {
                        "key": key,
                        "answer": answer,
                        "signed": hmac.compare_digest(expected, self.headers["X-MP-Signature"]),
                        "body": json.loads(body),
                    }
                )
                if answer == "hang":
                    time.sleep(tracker.hang_seconds)
                    return
                if answer == "slow":  # a 200, half a second late
                    time.sleep(0.5)
                    answer = "200"
                if answer == "trickle":  # a 200 whose body comes a byte at a time, each well within a read timeout
                    self.send_response(200)
                    self.send_header("Content-Length", "20")
                    self.end_headers()
                    for _ in range(20):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.3)
                    return
                code = int(answer)
                self.send_response(code)
                if 300 <= code < 400:  # a redirect to a page that answers any GET with 200
                    self.send_header("Location", f"{tracker.url}-moved")
                self.end_headers()
                if code < 300:
                    tracker.accepted[key] = tracker.accepted.get(key, 0) + 1
                    self.wfile.write(
                        json.dumps({"html_url": f"https://tracker.example/issues/{len(tracker.accepted)}"}).encode()
                    )

            def do_GET(self) -> None:  # only a client following a redirect comes here
                tracker.requests.append({"key": self.headers.get("Idempotency-Key"), "answer": "GET", "signed": False})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
