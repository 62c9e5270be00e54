"""Hotline operators file calls and walk-ins on a citizen's behalf."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .auth import roles_required
from .forms import OperatorTicketForm
from .public import submit_ticket

bp = Blueprint("operator", __name__, url_prefix="/operator")


@bp.route("/new", methods=["GET", "POST"])
@roles_required("operator", "admin")
def new_ticket() -> Any:
    form = OperatorTicketForm()
    form.load_choices()
    ticket = submit_ticket(
        form,
        "hotline",
        legal_form=form.legal_form.data or "electronic",
        filed_by_id=current_user.id,
    )
    if ticket is not None:
        flash(_("Ticket %(code)s was filed.", code=ticket.code), "success")
        return redirect(url_for("operator.new_ticket", filed=ticket.code))
    status = 422 if request.method == "POST" else 200
    return render_template("operator/new.html", form=form, filed=request.args.get("filed")), status
