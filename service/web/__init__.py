"""Blueprints and error pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..extensions import db


def register_blueprints(app: Flask) -> None:
    from . import (
        admin,
        api,
        audit_views,
        auth,
        console,
        dashboard,
        health,
        identity,
        operator,
        public,
        twofactor,
        webhooks,
    )

    for module in (public, auth, operator, console, api, health, webhooks,
                   twofactor, identity, audit_views, dashboard, admin):  # fmt: skip
        app.register_blueprint(module.bp)
    from ..extensions import csrf

    csrf.exempt(health.bp)
    from . import wtforms_i18n
    from .messages import install_template_helpers

    wtforms_i18n.install()

    install_template_helpers(app)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return api._http_error(exc)
        return render_template("error.html", error=exc), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        # Never a half-saved ticket: whatever the request had open is rolled back.
        db.session.rollback()
        app.logger.exception("unhandled error on %s", request.path)
        if request.path.startswith("/api/"):
            return jsonify(
                error={"code": "internal", "message": "Internal error", "fields": {}}
            ), 500
        try:
            return render_template("error.html", error=None), 500
        except Exception:  # noqa: BLE001  (the error page itself must not fail)
            return (
                "Đã có lỗi xảy ra; không có gì được lưu. / Something went wrong; nothing was saved.",
                500,
            )
