"""A local stand-in for Zalo's OA message API and OAuth server, speaking their wire format.

Real HTTP on 127.0.0.1 (werkzeug, threaded). It enforces what production enforces: access tokens
expire (-216), refresh tokens are single-use (a reused one is refused), users outside the reply
window cannot be messaged (-230). Tests can switch on 5xx answers or timeouts and read what was
sent. It also serves files, as Zalo's CDN does for image attachments.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


class UnderscoreHeaders(WSGIRequestHandler):
    """Zalo's headers are `access_token` and `secret_key`; werkzeug drops names with '_'."""

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        for key, value in self.headers.items():
            if "_" in key:
                environ["HTTP_" + key.upper()] = value
        return environ


@dataclass
class SentMessage:
    user_id: str
    text: str
    message_id: str
    access_token: str


@dataclass
class State:
    access_tokens: dict[str, float] = field(default_factory=dict)  # token → expires (epoch)
    refresh_tokens: dict[str, bool] = field(default_factory=dict)  # token → already used
    issued: list[tuple[str, str]] = field(default_factory=list)  # pairs issued by refresh
    refused_refreshes: list[str] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    outside_window: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)  # "500" or "timeout", for next requests
    files: dict[str, bytes] = field(default_factory=dict)


class FakeZaloOA:
    def __init__(self, app_id: str, app_secret: str, token_ttl: int = 90000) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.token_ttl = token_ttl
        self.timeout_seconds = 3.0  # how long a "timeout" failure stalls (> the client timeout)
        self.refresh_delay = 0.0  # widens the window in which concurrent refreshes would collide
        self.lock = threading.Lock()
        self.state = State()
        self.server: BaseWSGIServer | None = None
        self.thread: threading.Thread | None = None

    # -- control from tests ----------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def reset(self, access_token: str, refresh_token: str) -> None:
        """Forget everything; the OA is authorised with this pair."""
        with self.lock:
            self.state = State()
            self.state.access_tokens[access_token] = time.time() + self.token_ttl
            self.state.refresh_tokens[refresh_token] = False
        self.refresh_delay = 0.0

    def expire_access_tokens(self) -> None:
        with self.lock:
            for token in self.state.access_tokens:
                self.state.access_tokens[token] = 0.0

    def fail_next(self, *modes: str) -> None:
        with self.lock:
            self.state.failures.extend(modes)

    def close_window(self, user_id: str) -> None:
        with self.lock:
            self.state.outside_window.add(user_id)

    def host_file(self, name: str, data: bytes) -> str:
        with self.lock:
            self.state.files[name] = data
        return f"{self.url}/files/{name}"

    def texts_to(self, user_id: str) -> list[str]:
        with self.lock:
            return [m.text for m in self.state.messages if m.user_id == user_id]

    def valid_access_tokens(self) -> list[str]:
        now = time.time()
        with self.lock:
            return [t for t, exp in self.state.access_tokens.items() if exp > now]

    def usable_refresh_tokens(self) -> list[str]:
        with self.lock:
            return [t for t, used in self.state.refresh_tokens.items() if not used]

    # -- HTTP ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith("/files/"):
            data = self.state.files.get(request.path[len("/files/") :])
            response = Response(data or b"", status=200 if data else 404,
                                content_type="image/jpeg")  # fmt: skip
        elif request.method == "POST" and request.path == "/v3.0/oa/message/cs":
            response = self._failure() or self._send(request)
        elif request.method == "POST" and request.path == "/v4/oa/access_token":
            response = self._failure() or self._refresh(request)
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def _failure(self) -> Response | None:
        with self.lock:
            mode = self.state.failures.pop(0) if self.state.failures else None
        if mode == "timeout":
            time.sleep(self.timeout_seconds)
            return Response("gateway timeout", status=504)
        if mode == "500":
            return Response("internal server error", status=500)
        return None

    def _send(self, request: Request) -> Response:
        token = request.headers.get("access_token", "")
        body = request.get_json(silent=True) or {}
        user_id = str((body.get("recipient") or {}).get("user_id") or "")
        text = (body.get("message") or {}).get("text")
        with self.lock:
            if self.state.access_tokens.get(token, 0.0) <= time.time():
                return _json({"error": -216, "message": "Access token is invalid"})
            if not user_id or not isinstance(text, str) or not text or len(text) > 2000:
                return _json({"error": -201, "message": "Parameters are invalid"})
            if user_id in self.state.outside_window:
                return _json({"error": -230, "message": "User has not interacted with the OA "
                                                        "in the last 7 days"})  # fmt: skip
            message_id = secrets.token_hex(16)
            self.state.messages.append(SentMessage(user_id, text, message_id, token))
        return _json({"error": 0, "message": "Success",
                      "data": {"message_id": message_id, "user_id": user_id}})  # fmt: skip

    def _refresh(self, request: Request) -> Response:
        refresh_token = request.form.get("refresh_token", "")
        if request.headers.get("secret_key") != self.app_secret:
            return _json({"error": -14001, "error_name": "Invalid secret key",
                          "error_description": "secret_key is invalid"})  # fmt: skip
        if request.form.get("app_id") != self.app_id or (
            request.form.get("grant_type") != "refresh_token"
        ):
            return _json({"error": -14002, "error_name": "Invalid parameter",
                          "error_description": "app_id or grant_type is invalid"})  # fmt: skip
        time.sleep(self.refresh_delay)
        with self.lock:
            if self.state.refresh_tokens.get(refresh_token, True):  # unknown or already used
                self.state.refused_refreshes.append(refresh_token)
                return _json({"error": -14014, "error_name": "Invalid refresh token",
                              "error_description": "Refresh token is invalid or was used"})  # fmt: skip
            self.state.refresh_tokens[refresh_token] = True
            pair = (secrets.token_urlsafe(24), secrets.token_urlsafe(24))
            self.state.access_tokens[pair[0]] = time.time() + self.token_ttl
            self.state.refresh_tokens[pair[1]] = False
            self.state.issued.append(pair)
        # Zalo sends expires_in as a string.
        return _json({"access_token": pair[0], "refresh_token": pair[1],
                      "expires_in": str(self.token_ttl)})  # fmt: skip

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeZaloOA:
        self.server = make_server(
            "127.0.0.1", 0, self, threaded=True, request_handler=UnderscoreHeaders
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _json(data: dict[str, Any]) -> Response:
    return Response(json.dumps(data), status=200, content_type="application/json")
