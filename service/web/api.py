"""JSON API: POST /api/v1/tickets and GET /api/v1/tickets/<code> (X-Tracking-Token)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from typing import Any

from flask import Blueprint, Response, after_this_request, current_app, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, TooManyRequests

from ..domain.attachments import IncomingFile
from ..domain.intake import InboundTicket, receive
from ..domain.validation import IntakeError
from ..extensions import ApiRateLimiter, csrf, db
from ..models import Ticket
from .common import intake_settings, public_summary, tracking_url
from .messages import describe

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Any:
    return jsonify({"error": {"code": code, "message": message, "fields": fields or {}}}), status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    codes = {413: "too_large", 429: "rate_limited", 404: "not_found", 405: "method_not_allowed"}
    return error(exc.code or 500, codes.get(exc.code or 0, "http_error"), exc.description or "")


@bp.before_request
def _rate_limit() -> None:
    limiter: ApiRateLimiter = current_app.extensions["pakn_api_limiter"]
    if not limiter.items or request.method == "OPTIONS":
        return
    item, remaining, reset, over = limiter.hit(
        request.remote_addr or "127.0.0.1", request.endpoint or ""
    )
    if limiter.headers:

        @after_this_request
        def _headers(response: Response) -> Response:
            response.headers["X-RateLimit-Limit"] = str(item.amount)
            response.headers["X-RateLimit-Remaining"] = str(remaining)
            response.headers["X-RateLimit-Reset"] = str(reset)
            response.headers["Retry-After"] = str(max(0, int(reset - time.time())))
            return response

    if over:
        raise TooManyRequests(description=str(item))


def _str(
    body: dict[str, Any], key: str, errors: dict[str, str], required: bool = False
) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            errors[key] = "required"
        return None
    if not isinstance(value, str):
        errors[key] = "wrong_type"
        return None
    return value


def _num(body: dict[str, Any], key: str, out: str, errors: dict[str, str]) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors[out] = "wrong_type"
        return None
    return float(value)


def _obj(body: dict[str, Any], key: str, errors: dict[str, str]) -> dict[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        errors[key] = "wrong_type"
        return {}
    return value


def _files(body: dict[str, Any], errors: dict[str, str]) -> list[IncomingFile]:
    items = body.get("attachments") or []
    if not isinstance(items, list):
        errors["attachments"] = "wrong_type"
        return []
    files = []
    for item in items:
        try:
            files.append(
                IncomingFile(
                    str(item["filename"]), base64.b64decode(item["content_base64"], validate=True)
                )
            )
        except (KeyError, TypeError, binascii.Error):
            errors["attachments"] = "invalid"
    return files


def parse_ticket(raw: bytes) -> tuple[InboundTicket | None, dict[str, str], str | None]:
    """JSON bytes → InboundTicket, or field errors (and a top-level problem code)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, {}, "bad_encoding"
    try:
        body = json.loads(text)
    except ValueError:
        return None, {}, "malformed_json"
    if not isinstance(body, dict):
        return None, {}, "not_object"
    errors: dict[str, str] = {}
    location, citizen = _obj(body, "location", errors), _obj(body, "citizen", errors)
    extra = body.get("extra")
    if extra is not None and not isinstance(extra, dict):
        errors["extra"] = "wrong_type"
    inbound = InboundTicket(
        channel="api",
        kind=_str(body, "kind", errors, required=True) or "",
        category_code=_str(body, "category", errors, required=True),
        title=_str(body, "title", errors, required=True) or "",
        description=_str(body, "description", errors, required=True) or "",
        legal_form=_str(body, "legal_form", errors) or "electronic",
        address=_str(location, "address", errors),
        area_code=_str(location, "area", errors),
        latitude=_num(location, "lat", "lat", errors),
        longitude=_num(location, "lng", "lng", errors),
        citizen_name=_str(citizen, "name", errors),
        email=_str(citizen, "email", errors),
        phone=_str(citizen, "phone", errors),
        citizen_address=_str(citizen, "address", errors),
        language=_str(body, "language", errors) or "vi",
        extra=extra if isinstance(extra, dict) else None,
        attachments=_files(body, errors),
        payload=text,
    )
    return inbound, errors, None


@bp.post("/tickets")
def create_ticket() -> Any:
    if not (request.mimetype or "").endswith("json"):
        return error(415, "unsupported_media_type", "send Content-Type: application/json")
    inbound, field_errors, problem = parse_ticket(request.get_data(cache=False))
    if problem:
        messages = {
            "bad_encoding": "The request body is not valid UTF-8.",
            "malformed_json": "The request body is not valid JSON.",
            "not_object": "The request body must be a JSON object.",
        }
        return error(400, problem, messages[problem])
    assert inbound is not None
    if field_errors:
        return error(422, "invalid", "Some fields are missing or invalid.", describe(field_errors))
    key = request.headers.get("Idempotency-Key", "").strip()
    if key:
        if len(key) > 200:
            return error(400, "bad_idempotency_key", "Idempotency-Key is too long.")
        inbound.external_id = key
    try:
        result = receive(db.session, inbound, intake_settings())
    except IntakeError as exc:
        db.session.rollback()
        return error(422, "invalid", "Some fields are missing or invalid.", describe(exc.fields))
    return (
        jsonify(
            code=result.code,
            tracking_token=result.tracking_token,
            status=result.status,
            tracking_url=tracking_url(result.tracking_token),
        ),
        201 if result.created else 200,
    )


@bp.get("/tickets/<code>")
def get_ticket(code: str) -> Any:
    token = request.headers.get("X-Tracking-Token", "")
    ticket = db.session.scalars(select(Ticket).where(Ticket.code == code)).first()
    if ticket is None:
        return error(404, "not_found", "No ticket has this code.")
    if not token or not hmac.compare_digest(token.encode(), ticket.tracking_token.encode()):
        return error(403, "forbidden", "The X-Tracking-Token header is missing or wrong.")
    return jsonify(public_summary(ticket))
