"""Extensions created unbound and bound in create_app (the Flask tutorial pattern)."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from .models import Base

db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def select_locale() -> str:
    """?lang= wins (and is remembered in a cookie), then the cookie; Vietnamese by default.
    The JSON API also honours Accept-Language, since programs cannot click a language switch."""
    lang = request.args.get("lang") or request.cookies.get("lang")
    if lang in ("vi", "en"):
        return lang
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(["vi", "en"], default="vi") or "vi"
    return "vi"


babel = Babel()
