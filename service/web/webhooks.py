"""POST /webhooks/<channel>: one door for every provider; a channel that is off answers 404."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

import channels

from ..extensions import csrf, db

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)


@bp.post("/<path>")
def receive(path: str) -> Any:
    cls = channels.by_webhook_path(path)
    if cls is None or not cls.enabled(current_app.config):
        abort(404)
    result = cls(current_app.config).handle_webhook(
        db.session, request.headers, request.get_data(cache=False)
    )
    return jsonify(result.body), result.status
