"""Absolute links for mail and chat (built from PUBLIC_BASE_URL; workers have no request)."""

from __future__ import annotations

from flask import current_app

from .models import Ticket


def _base() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def tracking_link(tracking_token: str) -> str:
    return f"{_base()}/track/{tracking_token}"


def console_link(ticket: Ticket) -> str:
    return f"{_base()}/console/tickets/{ticket.code}"
