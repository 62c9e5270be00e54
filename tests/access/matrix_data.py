"""Sample objects the access matrix puts into route URLs, made in the matrix's own database.

Labels: "A" = of the Department of Construction (DN-SXD), "B" = of Hai Chau ward (DN-HAICHAU),
"D" = a denunciation of DN-SXD carrying the planted denouncer identity. A parameter's value is
either one value (not scoped), a list (each is tried, not scoped), or {label: value} (scoped:
each label is tried, and a role may reach it only if the label is in its scope).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from service.cli import create_user
from service.domain.attachments import IncomingFile, check_file, store
from service.extensions import db
from service.models import (
    Agency,
    Attachment,
    Category,
    DeadlinePolicy,
    Holiday,
    ResponseTemplate,
    RoutingRule,
    Ticket,
    User,
)
from tests.access.support import PLANTED, file_ticket

# A 1×1 GIF: the smallest file the attachment check accepts.
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _agency_id(code: str) -> int:
    return db.session.scalars(select(Agency.id).where(Agency.code == code)).one()


def _attach(ticket: Ticket, upload_folder: str) -> int:
    checked, error = check_file(IncomingFile(f"anh-{ticket.code}.gif", GIF), 1024 * 1024)
    assert checked is not None, error
    store(upload_folder, checked)
    item = Attachment(ticket_id=ticket.id, filename=checked.filename, sha256=checked.sha256,
                      content_type=checked.content_type, size=len(checked.data))  # fmt: skip
    db.session.add(item)
    db.session.flush()
    return item.id


def _built_report(agency_id: int, requested_by: int) -> int:
    """A finished yearly report (built in-process, as the worker would)."""
    from service.exports import build_yearly_report
    from service.models import Report

    today = dt.date.today()
    report = Report(kind="yearly", requested_by_id=requested_by, state="queued",
                    params={"agency_id": agency_id, "from": f"{today.year}-01-01",
                            "to": today.isoformat(), "lang": "vi"})  # fmt: skip
    db.session.add(report)
    db.session.commit()
    assert build_yearly_report(db.session, report.id) == "done"
    return report.id


def _first_id(model: Any) -> int:
    return db.session.scalars(select(model.id).order_by(model.id).limit(1)).one()


def build_samples(upload_folder: str) -> dict[str, Any]:
    """Create the sample objects (inside the matrix app's context); name → value(s)."""
    session = db.session
    tickets = {
        "A": file_ticket(session, upload_folder, category="traffic", agency="DN-SXD"),
        "B": file_ticket(session, upload_folder, category="env", agency="DN-HAICHAU"),
        "D": file_ticket(
            session,
            upload_folder,
            kind="denunciation",
            category="land",
            agency="DN-SXD",
            identity=PLANTED,
            title="Tố cáo sai phạm",
        ),  # fmt: skip
    }
    attachments = {label: _attach(t, upload_folder) for label, t in tickets.items()}
    template = ResponseTemplate(name="Mẫu chung", category_id=None,
                                body_vi="Kính gửi {citizen_name}, về hồ sơ {code}: đã tiếp nhận.")  # fmt: skip
    session.add(template)
    session.commit()
    agencies = {"A": _agency_id("DN-SXD"), "B": _agency_id("DN-HAICHAU")}
    admin_id = session.scalars(select(User.id).where(User.username == "admin")).one()
    reports = {label: _built_report(agency, admin_id) for label, agency in agencies.items()}
    # A user nobody logs in as: admin screens may change it freely during the walk.
    sample_user = create_user("matrix.sample", "Matrix Sample", "operator", "DN-VP", "x" * 24)
    return {
        # tickets, by label
        "code": {k: t.code for k, t in tickets.items()},
        "ticket_id": {k: t.id for k, t in tickets.items()},
        "token": {k: t.tracking_token for k, t in tickets.items()},
        "attachment_id": attachments,
        # agencies and what belongs to them
        "agency_id": agencies,
        "agency": agencies,
        "report_id": reports,
        # configuration rows (administrators only: no scope)
        "template_id": template.id,
        "user_id": sample_user.id,
        "category_id": _first_id(Category),
        "rule_id": _first_id(RoutingRule),
        "policy_id": _first_id(DeadlinePolicy),
        "holiday_id": _first_id(Holiday),
        "year": dt.date.today().year,
        # plain words
        "what": ["tickets", "events"],
        "path": "telegram",
        "filename": "style.css",
    }
