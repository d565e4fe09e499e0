"""Test support: a scripted HTTP/1.1 server on 127.0.0.1 that records what it receives, and
client settings for it. Nothing here touches any other network."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

# Test credentials: never real, and distinctive enough to grep for in error texts.
ACCESS_KEY = "AKIDTESTPYTHON"
SECRET_KEY = "CANARY-SECRET-8c1f2e"
SESSION_TOKEN = "CANARY-TOKEN-5b7d90"
REGION = "us-east-1"

Reply = Tuple[int, Dict[str, str], bytes]


class Received(NamedTuple):
    method: str
    path: str  # the raw request target, still percent-encoded
    headers: Dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def success(request_id: str = "req-ok") -> Callable[[Received], Reply]:
    return lambda _req: (200, {"x-amzn-RequestId": request_id, "Content-Type": "application/json"}, b"{}")


def service_error(code: str, http_status: int, message: str, request_id: str = "req-err") -> Callable[[Received], Reply]:
    """An error the way Amazon Connect sends one: code in x-amzn-ErrorType, message in the body."""
    headers = {
        "x-amzn-RequestId": request_id,
        "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.connect/",
        "Content-Type": "application/json",
    }
    body = json.dumps({"message": message}).encode("utf-8")
    return lambda _req: (http_status, headers, body)


class ScriptedServer:
    """Answers each POST with ``self.responder(request)`` and records every request.

    Use as a context manager; handler threads are daemons with a 5 s idle timeout, so a
    keep-alive connection left open by a client never outlives the test process.
    """

    def __init__(self, responder: Optional[Callable[[Received], Reply]] = None) -> None:
        self.responder: Callable[[Received], Reply] = responder or success()
        self.requests: List[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the service speaks it
            timeout = 5

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received = Received(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with server._lock:
                    server.requests.append(received)
                status, headers, payload = server.responder(received)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up first (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output readable

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def received(self) -> List[Received]:
        with self._lock:
            return list(self.requests)

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def client_kwargs(endpoint_url: str, **config: Any) -> Dict[str, Any]:
    """Explicit, hermetic Client arguments; one attempt unless the test asks for more."""
    settings: Dict[str, Any] = {"max_attempts": 1, "timeout_ms": 5000, "connect_timeout_ms": 2000}
    settings.update(config)
    return {
        "region_name": REGION,
        "endpoint_url": endpoint_url,
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "aws_session_token": SESSION_TOKEN,
        "config": settings,
    }


def closed_port_url() -> str:
    """A loopback URL nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
