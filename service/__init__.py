"""PAKN web service: `service:create_app()`."""

from __future__ import annotations

import functools
import os
from typing import Any

from flask import Flask, g, request
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    from .config import load_config

    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)

    from .extensions import (
        ApiRateLimiter,
        CookieSessionInterface,
        babel,
        csrf,
        db,
        limiter,
        login_manager,
        migrate,
        select_locale,
    )

    db.init_app(app)
    with app.app_context():
        _setup_engines(app, db.engine)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    from workers.queues import enqueue_safely, redis_for

    # The JSON API's own limiter: one Redis round trip per request (see extensions).
    app.extensions["pakn_api_limiter"] = ApiRateLimiter(app, redis_for)
    app.session_interface = CookieSessionInterface()
    babel.init_app(
        app, locale_selector=select_locale, default_translation_directories="translations"
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"

    @app.before_request
    def _api_is_anonymous() -> None:
        # The JSON API never uses a login: skip loading one (Flask-Login's session protection
        # hashes address and user agent on every request). Runs before the two-factor gate.
        if request.blueprint == "api":
            g._login_user = login_manager.anonymous_user()

    from .domain import jobs

    jobs.install(db.session, enqueue_safely)

    import channels

    from .domain import notices

    # Notices go out on every channel whose settings are present.
    notices.DELIVERABLE.update(channels.enabled_names(app.config))

    from .web import register_blueprints

    register_blueprints(app)
    _skip_extension_hooks_for_api(app, limiter)

    from .cli import register_cli

    register_cli(app)

    @app.after_request
    def _remember_language(response: Any) -> Any:
        lang = request.args.get("lang") if request.query_string else None
        if lang in ("vi", "en"):
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
        # setdefault, without a KeyError per missing header (werkzeug raises an HTTP exception)
        present = {name.lower() for name, _ in response.headers}
        for name, value in _SECURITY_HEADERS:
            if name.lower() not in present:
                response.headers.add(name, value)
        return response

    return app


def _setup_engines(app: Flask, engine: Engine) -> None:
    from .domain import intake

    if engine.dialect.name == "postgresql":
        # Intake's one-statement insert runs in autocommit mode on a pool of its own, instead of
        # switching isolation levels on every checkout and checkin; with no transaction ever
        # open there is nothing to roll back on checkin. No pre-ping round trip either: intake
        # retries once on a dropped connection, safe thanks to the unique external id.
        options = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
        intake.AUTOCOMMIT_ENGINES[engine] = create_engine(
            engine.url, **options, isolation_level="AUTOCOMMIT", pool_reset_on_return=None
        )


def _skip_extension_hooks_for_api(app: Flask, limiter: Any) -> None:
    """Flask-Limiter's request hooks look for default, application and blueprint limits, and
    Flask-WTF's looks for a CSRF token, on every request. The JSON API has no such limits (its
    own limiter runs in api.py) and is CSRF-exempt, so its requests skip those hooks. Routes
    decorated with limiter.limit still check in their decorator."""

    def skipped(hook: Any) -> bool:
        if isinstance(hook, functools.partial):  # Flask-Limiter's after-request hook
            return bool(hook.args) and hook.args[0] is limiter
        if getattr(hook, "__self__", None) is limiter:
            return True
        return getattr(hook, "__qualname__", "").startswith("CSRFProtect.")

    def unless_api(hook: Any, returns_response: bool) -> Any:
        def hook_unless_api(*args: Any) -> Any:
            if request.blueprint == "api":
                return args[0] if returns_response else None
            return hook(*args)

        return hook_unless_api

    registries = ((app.before_request_funcs, False), (app.after_request_funcs, True),
                  (app.teardown_request_funcs, False))  # fmt: skip
    for registry, returns_response in registries:
        hooks = registry.setdefault(None, [])
        hooks[:] = [unless_api(h, returns_response) if skipped(h) else h for h in hooks]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # Several processes share the embedded SQLite file: WAL, a busy timeout and real foreign keys.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
