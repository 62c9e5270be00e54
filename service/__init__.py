"""PAKN web service: `service:create_app()`."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request
from sqlalchemy import event
from sqlalchemy.engine import Engine


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    from .config import load_config

    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)

    from .extensions import babel, csrf, db, limiter, login_manager, migrate, select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(
        app, locale_selector=select_locale, default_translation_directories="translations"
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"

    from workers.queues import enqueue_safely

    from .domain import jobs

    jobs.install(db.session, enqueue_safely)

    import channels

    from .domain import notices

    # Notices go out on every channel whose settings are present.
    notices.DELIVERABLE.update(channels.enabled_names(app.config))

    from .web import register_blueprints

    register_blueprints(app)

    from .cli import register_cli

    register_cli(app)

    @app.after_request
    def _remember_language(response: Any) -> Any:
        lang = request.args.get("lang")
        if lang in ("vi", "en"):
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # Several processes share the embedded SQLite file: WAL, a busy timeout and real foreign keys.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
