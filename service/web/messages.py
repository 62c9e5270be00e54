"""Human messages for domain error codes, translated (Vietnamese by default)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

FIELD_LABELS = {
    "kind": _l("Type"),
    "category": _l("Category"),
    "title": _l("Title"),
    "description": _l("Description"),
    "area": _l("Commune / ward"),
    "address": _l("Address"),
    "lat": _l("Latitude"),
    "lng": _l("Longitude"),
    "name": _l("Full name"),
    "email": _l("Email"),
    "phone": _l("Phone"),
    "contact": _l("Contact"),
    "attachments": _l("Attachments"),
    "legal_form": _l("Legal form"),
    "channel": _l("Channel"),
    "body": _l("Body"),
}

CODES = {
    "required": _l("This field is required."),
    "too_short": _l("This is too short."),
    "too_long": _l("This is too long."),
    "invalid": _l("This value is not valid."),
    "unknown": _l("This choice does not exist."),
    "required_for_kind": _l(
        "Complaints, denunciations and feedback on administrative procedures need your full "
        "name and a phone number or email, as the law requires."
    ),
    "too_many": _l("Too many files."),
    "empty": _l("A file is empty."),
    "too_large": _l("A file is too large."),
    "bad_type": _l("Only JPEG, PNG, GIF, WebP images and PDF files are accepted."),
    "wrong_type": _l("This value has the wrong type."),
    "not_object": _l("The request body must be a JSON object."),
    "bad_encoding": _l("The request is not valid UTF-8 text."),
}


def describe(fields: dict[str, str]) -> dict[str, str]:
    """field → translated message."""
    return {name: str(CODES.get(code, CODES["invalid"])) for name, code in fields.items()}


def label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


STATUS_LABELS = {
    "received": _l("Received"),
    "routed": _l("Routed to agency"),
    "accepted": _l("Accepted for handling"),
    "in_progress": _l("In progress"),
    "need_info": _l("Waiting for more information"),
    "transferred": _l("Transferred"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
    "rejected": _l("Not accepted"),
    "duplicate": _l("Duplicate"),
    "withdrawn": _l("Withdrawn"),
    "reopened": _l("Reopened"),
}

EVENT_LABELS = {
    "received": _l("Submission received"),
    "routed": _l("Sent to the responsible agency"),
    "accepted": _l("Accepted for handling"),
    "started": _l("Handling started"),
    "info_requested": _l("More information requested"),
    "info_provided": _l("Citizen provided information"),
    "info_added": _l("Citizen added information"),
    "replied": _l("Reply from the agency"),
    "transferred": _l("Transferred to another agency"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
    "rejected": _l("Not accepted"),
    "duplicate": _l("Linked to an earlier submission"),
    "withdrawn": _l("Withdrawn by the citizen"),
    "reopened": _l("Reopened"),
    "extended": _l("Deadline extended"),
    "note": _l("Internal note"),
    "due_soon": _l("Deadline approaching"),
    "overdue": _l("Overdue"),
    "delivery_failed": _l("A notice could not be delivered"),
    "assigned": _l("Assigned"),
    "split": _l("Split into several submissions"),
    "duplicate_merged": _l("A duplicate was merged into this ticket"),
    "delivery_fallback": _l("A notice was sent to another contact of the citizen"),
}

KIND_LABELS = {
    "feedback": _l("Feedback"),
    "recommendation": _l("Recommendation"),
    "complaint": _l("Complaint"),
    "denunciation": _l("Denunciation"),
}

ACTION_LABELS = {
    "accept": _l("Accept (thụ lý)"),
    "start": _l("Start handling"),
    "request_info": _l("Request information"),
    "reply": _l("Public reply"),
    "transfer": _l("Transfer"),
    "resolve": _l("Resolve"),
    "close": _l("Close"),
    "reject": _l("Reject"),
    "mark_duplicate": _l("Mark duplicate"),
    "reopen": _l("Reopen"),
    "note": _l("Internal note"),
    "extend": _l("Extend deadline"),
    "assign": _l("Assign"),
    "split": _l("Split"),
    "provide_info": _l("Provide information"),
    "withdraw": _l("Withdraw"),
    "route": _l("Route"),
}

LEGAL_FORM_LABELS = {
    "electronic": _l("Electronic"),
    "signed_petition": _l("Signed petition"),
    "in_person": _l("In person"),
}

CHANNEL_LABELS = {
    "web": _l("Web form"),
    "hotline": _l("Hotline"),
    "api": _l("API"),
    "email": _l("Email"),
    "telegram": "Telegram",
    "zalo_oa": "Zalo OA",
    "zalo_bot": "Zalo Bot",
}

# Domain refusals (English in the domain layer) shown to officers in their language.
ACTION_ERRORS = {
    "choose another agency to transfer to": _l("Choose another agency to transfer to."),
    "that agency no longer exists; choose its successor": _l(
        "That agency no longer exists; choose its successor."
    ),
    "give the code of the original ticket": _l("Give the code of the original ticket."),
    "the note is empty": _l("The note is empty."),
    "the message is empty": _l("The message is empty."),
    "an extension needs a reason": _l("An extension needs a reason."),
    "only an accepted, open ticket can be extended": _l(
        "Only an accepted, open ticket can be extended."
    ),
    "no deadline policy applies to this ticket": _l("No deadline policy applies to this ticket."),
}


def transition_message(exc: Any) -> str:
    """A lifecycle refusal in the reader's language, built from the action and status labels."""
    action = str(ACTION_LABELS.get(exc.action, exc.action))
    if exc.code == "needs_reason":
        return _("“%(action)s” needs a reason.", action=action)
    if exc.code == "unknown_action":
        return _("Unknown action.")
    status = str(STATUS_LABELS.get(exc.status, exc.status))
    return _("Not allowed: “%(action)s” is not possible while the ticket is “%(status)s”.",
             action=action, status=status)  # fmt: skip


def action_error(message: str) -> str:
    return str(ACTION_ERRORS.get(message, message))


def install_template_helpers(app: object) -> None:
    from flask_babel import get_locale

    app.jinja_env.globals.update(  # type: ignore[attr-defined]
        get_locale=get_locale,
        status_label=lambda s: str(STATUS_LABELS.get(s, s)),
        event_label=lambda k: str(EVENT_LABELS.get(k, k)),
        kind_label=lambda k: str(KIND_LABELS.get(k, k)),
        legal_form_label=lambda f: str(LEGAL_FORM_LABELS.get(f, f)),
        channel_label=lambda c: str(CHANNEL_LABELS.get(c, c)),
        action_label=lambda a: str(ACTION_LABELS.get(a, a)),
        field_label=label,
    )
