"""A local stand-in for the Telegram Bot API, speaking its wire format on 127.0.0.1.

Real HTTP (werkzeug, threaded) at `/bot<token>/<method>` and `/file/bot<token>/<path>`.
Requests are read as python-telegram-bot sends them (form-encoded, JSON-encoded values) or as
JSON; answers are `{"ok": true, "result": …}` or `{"ok": false, "error_code", "description",
"parameters"}` with the matching HTTP status. It records what was sent, queues updates for
getUpdates (409 while a webhook is set, as Telegram does) and can fail on demand: 5xx, 429 with
retry_after, 400 "chat not found", 403 "bot was blocked by the user", or hang past the timeout.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

BOT_USER = {"id": 7000000001, "is_bot": True, "first_name": "PAKN", "username": "pakn_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False}  # fmt: skip

# mode → (HTTP status, description, parameters)
FAILURES: dict[str, tuple[int, str, dict[str, Any] | None]] = {
    "500": (500, "Internal Server Error", None),
    "502": (502, "Bad Gateway", None),
    "429": (429, "Too Many Requests: retry after 3", {"retry_after": 3}),
    "400": (400, "Bad Request: chat not found", None),
    "403": (403, "Forbidden: bot was blocked by the user", None),
}


@dataclass
class Sent:
    chat_id: str
    text: str
    message_id: int
    buttons: list[list[tuple[str, str]]] | None = None
    at: float = field(default_factory=time.time)  # arrival (benchmarks measure latency with it)


@dataclass
class State:
    webhook: dict[str, Any] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    answered_callbacks: list[str] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id → (path, data)
    failures: list[tuple[str, tuple[str, ...] | None]] = field(default_factory=list)
    down: str | None = None  # a failure mode applied to every call until cleared
    next_message_id: int = 1


class FakeTelegram:
    def __init__(self, token: str) -> None:
        self.token = token
        self.timeout_seconds = 3.0  # a "timeout" hangs this long (more than the client waits)
        self.lock = threading.Lock()
        self.state = State()
        self.server: BaseWSGIServer | None = None

    # -- control from tests ----------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def reset(self) -> None:
        with self.lock:
            self.state = State()

    def fail_next(self, *modes: str, methods: tuple[str, ...] | None = ("sendMessage",)) -> None:
        """The next calls of `methods` (None: any method) fail with these modes, in order."""
        with self.lock:
            self.state.failures.extend((m, methods) for m in modes)

    def go_down(self, mode: str | None) -> None:
        """Every call fails with `mode` ("500", "timeout"…) until go_down(None)."""
        with self.lock:
            self.state.down = mode

    def queue_update(self, update: dict[str, Any]) -> None:
        with self.lock:
            self.state.updates.append(update)

    def host_file(self, file_id: str, data: bytes, path: str | None = None) -> None:
        with self.lock:
            self.state.files[file_id] = (path or f"photos/{file_id}.jpg", data)

    def sent_to(self, chat_id: str | int) -> list[Sent]:
        with self.lock:
            return [s for s in self.state.sent if s.chat_id == str(chat_id)]

    def texts_to(self, chat_id: str | int) -> list[str]:
        return [s.text for s in self.sent_to(chat_id)]

    def calls(self) -> list[str]:
        with self.lock:
            return list(self.state.calls)

    # -- HTTP ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path
        file_prefix, api_prefix = f"/file/bot{self.token}/", f"/bot{self.token}/"
        if path.startswith(file_prefix):
            response = self._download(path[len(file_prefix) :])
        elif path.startswith(api_prefix):
            method = path[len(api_prefix) :]
            with self.lock:
                self.state.calls.append(method)
            response = self._failure(method) or self._call(method, _params(request))
        elif path.startswith("/bot"):
            response = _error(401, "Unauthorized")
        else:
            response = _error(404, "Not Found")
        return response(environ, start_response)

    def _failure(self, method: str) -> Response | None:
        with self.lock:
            mode = self.state.down
            if mode is None:
                index = next((i for i, (_m, methods) in enumerate(self.state.failures)
                              if methods is None or method in methods), None)  # fmt: skip
                mode = self.state.failures.pop(index)[0] if index is not None else None
        if mode is None:
            return None
        if mode == "timeout":
            time.sleep(self.timeout_seconds)
            return _error(504, "Gateway Timeout")
        status, description, parameters = FAILURES[mode]
        return _error(status, description, parameters)

    def _call(self, method: str, params: dict[str, Any]) -> Response:
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        return handler(params)

    def _m_getMe(self, params: dict[str, Any]) -> Response:  # noqa: N802
        return _ok(BOT_USER)

    def _m_setWebhook(self, params: dict[str, Any]) -> Response:  # noqa: N802
        if not str(params.get("url") or "").startswith(("https://", "http://")):
            return _error(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        with self.lock:
            self.state.webhook = {"url": params["url"], "secret_token": params.get("secret_token"),
                                  "allowed_updates": _json_value(params.get("allowed_updates"))}  # fmt: skip
            if params.get("drop_pending_updates") in (True, "true", "True"):
                self.state.updates.clear()
        return _ok(True, description="Webhook was set")

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Response:  # noqa: N802
        with self.lock:
            self.state.webhook = None
        return _ok(True, description="Webhook was deleted")

    def _m_getUpdates(self, params: dict[str, Any]) -> Response:  # noqa: N802
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 2.0)
        while True:
            with self.lock:
                if self.state.webhook is not None:
                    return _error(409, "Conflict: can't use getUpdates method while webhook is "
                                       "active; use deleteWebhook to delete the webhook first")  # fmt: skip
                if offset:  # confirms (forgets) every update below the offset
                    self.state.updates = [u for u in self.state.updates
                                          if u["update_id"] >= offset]  # fmt: skip
                found = self.state.updates[:limit]
            if found or time.monotonic() >= deadline:
                return _ok(found)
            time.sleep(0.05)

    def _m_sendMessage(self, params: dict[str, Any]) -> Response:  # noqa: N802
        chat_id, text = str(params.get("chat_id") or ""), str(params.get("text") or "")
        if not chat_id:
            return _error(400, "Bad Request: chat_id is empty")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        markup = _json_value(params.get("reply_markup")) or {}
        buttons = None
        if markup.get("inline_keyboard"):
            buttons = [[(b["text"], b.get("callback_data", "")) for b in row]
                       for row in markup["inline_keyboard"]]  # fmt: skip
            if any(len(data.encode()) > 64 for row in buttons for _t, data in row):
                return _error(400, "Bad Request: BUTTON_DATA_INVALID")
        with self.lock:
            message_id = self.state.next_message_id
            self.state.next_message_id += 1
            self.state.sent.append(Sent(chat_id, text, message_id, buttons))
        result = {"message_id": message_id, "from": BOT_USER, "date": int(time.time()),
                  "chat": {"id": int(chat_id), "type": "private"}, "text": text}  # fmt: skip
        if markup:
            result["reply_markup"] = markup
        return _ok(result)

    def _m_getFile(self, params: dict[str, Any]) -> Response:  # noqa: N802
        file_id = str(params.get("file_id") or "")
        with self.lock:
            hosted = self.state.files.get(file_id)
        if hosted is None:
            return _error(400, "Bad Request: invalid file_id")
        return _ok({"file_id": file_id, "file_unique_id": f"u{file_id}",
                    "file_size": len(hosted[1]), "file_path": hosted[0]})  # fmt: skip

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Response:  # noqa: N802
        with self.lock:
            self.state.answered_callbacks.append(str(params.get("callback_query_id")))
        return _ok(True)

    def _download(self, file_path: str) -> Response:
        with self.lock:
            data = next((d for p, d in self.state.files.values() if p == file_path), None)
        if data is None:
            return Response("Not Found", status=404)
        return Response(data, status=200, content_type="application/octet-stream")

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _params(request: Request) -> dict[str, Any]:
    """Form fields (how python-telegram-bot sends) or a JSON body (how curl users send)."""
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return {**request.args.to_dict(), **request.form.to_dict()}


def _json_value(value: Any) -> Any:
    """Form values of arrays and objects arrive JSON-encoded."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _ok(result: Any, description: str | None = None) -> Response:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return Response(json.dumps(body), status=200, content_type="application/json")


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Response(json.dumps(body), status=status, content_type="application/json")
