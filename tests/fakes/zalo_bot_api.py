"""A local stand-in for the Zalo Bot platform API (bot-api.zaloplatforms.com) on 127.0.0.1.

`/bot<token>/<method>` with JSON bodies; answers `{"ok": true, "result": …}` or `{"ok": false,
"error_code", "description"}`. Implements getMe, setWebhook, deleteWebhook, getUpdates,
sendMessage (text ≤ 2000 characters) and sendPhoto; hosts image files as Zalo's CDN does.
Failure modes: "500", "timeout", "400" (chat not found), "403" (user blocked the bot) and
"refused" (HTTP 200 with ok=false).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

FAILURES: dict[str, tuple[int, int, str]] = {  # mode → (HTTP status, error_code, description)
    "500": (500, 500, "Internal server error"),
    "400": (400, 400, "Bad Request: chat not found"),
    "403": (403, 403, "Forbidden: the user has blocked the bot"),
    "refused": (200, 400, "Bad Request: user not reachable"),
}


@dataclass
class Sent:
    chat_id: str
    text: str
    message_id: str


@dataclass
class State:
    webhook: dict[str, Any] | None = None
    sent: list[Sent] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    down: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    counter: int = 0


class FakeZaloBot:
    def __init__(self, token: str) -> None:
        self.token = token
        self.timeout_seconds = 3.0
        self.lock = threading.Lock()
        self.state = State()
        self.server: BaseWSGIServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def reset(self) -> None:
        with self.lock:
            self.state = State()

    def fail_next(self, *modes: str) -> None:
        """The next sendMessage calls fail with these modes, in order."""
        with self.lock:
            self.state.failures.extend(modes)

    def go_down(self, mode: str | None) -> None:
        with self.lock:
            self.state.down = mode

    def host_file(self, name: str, data: bytes) -> str:
        with self.lock:
            self.state.files[name] = data
        return f"{self.url}/files/{name}"

    def sent_to(self, chat_id: str) -> list[Sent]:
        with self.lock:
            return [s for s in self.state.sent if s.chat_id == str(chat_id)]

    def texts_to(self, chat_id: str) -> list[str]:
        return [s.text for s in self.sent_to(chat_id)]

    def calls(self) -> list[str]:
        with self.lock:
            return list(self.state.calls)

    # -- HTTP ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        prefix = f"/bot{self.token}/"
        if request.path.startswith("/files/"):
            data = self.state.files.get(request.path[len("/files/") :])
            response = Response(data or b"", status=200 if data else 404, content_type="image/jpeg")
        elif request.path.startswith(prefix) and request.method == "POST":
            method = request.path[len(prefix) :]
            with self.lock:
                self.state.calls.append(method)
            body = request.get_json(silent=True)
            response = self._failure(method) or self._call(
                method, body if isinstance(body, dict) else {}
            )
        elif request.path.startswith("/bot"):
            response = _answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def _failure(self, method: str) -> Response | None:
        with self.lock:
            mode = self.state.down
            if mode is None and method == "sendMessage" and self.state.failures:
                mode = self.state.failures.pop(0)
        if mode is None:
            return None
        if mode == "timeout":
            time.sleep(self.timeout_seconds)
            return Response("gateway timeout", status=504)
        status, code, description = FAILURES[mode]
        return _answer(status, {"ok": False, "error_code": code, "description": description})

    def _call(self, method: str, body: dict[str, Any]) -> Response:
        if method == "getMe":
            return _ok({"id": "1234567890", "account_name": "bot.pakn", "account_type": "BASIC",
                        "can_join_groups": False})  # fmt: skip
        if method == "setWebhook":
            secret = str(body.get("secret_token") or "")
            if not str(body.get("url") or "").startswith("https://") and "127.0.0.1" not in str(
                body.get("url")
            ):
                return _bad("url must be HTTPS")
            if not 8 <= len(secret) <= 256:
                return _bad("secret_token must be 8-256 characters")
            with self.lock:
                self.state.webhook = {"url": body["url"], "secret_token": secret}
            return _ok({"url": body["url"], "updated_at": int(time.time() * 1000)})
        if method == "deleteWebhook":
            with self.lock:
                self.state.webhook = None
            return _ok({"url": ""})
        if method == "getUpdates":
            return _ok([])
        if method in ("sendMessage", "sendPhoto"):
            return self._send(method, body)
        return _answer(404, {"ok": False, "error_code": 404, "description": "Method not found"})

    def _send(self, method: str, body: dict[str, Any]) -> Response:
        chat_id = str(body.get("chat_id") or "")
        text = str(body.get("text") or body.get("caption") or "")
        if not chat_id:
            return _bad("chat_id is required")
        if method == "sendMessage" and not 1 <= len(text) <= 2000:
            return _bad("text must be 1-2000 characters")
        with self.lock:
            self.state.counter += 1
            message_id = f"zmsg{self.state.counter:06d}"
            self.state.sent.append(Sent(chat_id, text, message_id))
        return _ok({"message_id": message_id, "date": int(time.time() * 1000)})

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeZaloBot:
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _answer(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _ok(result: Any) -> Response:
    return _answer(200, {"ok": True, "result": result})


def _bad(description: str) -> Response:
    return _answer(400, {"ok": False, "error_code": 400, "description": description})
