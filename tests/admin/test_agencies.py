"""The agency tree: create and edit with validation and audit, and merging agencies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from service.cli import DEMO_PASSWORD, create_user
from service.domain import agencies
from service.models import Agency, RoutingRule, Ticket, TicketEvent, User, utcnow
from tests.access.support import file_ticket
from tests.admin.conftest import last_audit


def _agency(db: Any, code: str) -> Agency:
    db.session.expire_all()
    return db.session.scalars(select(Agency).where(Agency.code == code)).one()


# Test agencies are never wards or communes: generated datasets pick those as citizens' areas.
def _new(post: Any, agency_code: str, under: Agency | None = None, **extra: Any) -> Any:
    data = {"code": agency_code, "name": f"Đơn vị {agency_code}", "kind": "public_unit",
            "parent": str(under.id) if under else "", **extra}  # fmt: skip
    return post("/admin/agencies/new", data, page="/admin/agencies/new")


def test_create_edit_tree_and_audit(admin: Any, post: Any, db: Any, tag: str) -> None:
    root_code, child_code = f"{tag}-R".upper(), f"{tag}-C".upper()
    assert _new(post, root_code, kind="province").status_code == 302
    root = _agency(db, root_code)
    response = _new(post, child_code, root, email="c@agency.test", effective_from="2026-01-01",
                    is_remote="y")  # fmt: skip
    assert response.status_code == 302
    child = _agency(db, child_code)
    assert (child.parent_id, child.email, child.is_remote) == (root.id, "c@agency.test", True)
    assert child.effective_from == dt.date(2026, 1, 1)
    created = last_audit(db, "agency.create")
    assert created.before is None and created.after["code"] == child_code

    page = admin.get("/admin/agencies").get_data(as_text=True)
    assert f'data-code="{root_code}" data-depth="0"' in page
    assert f'data-code="{child_code}" data-depth="1"' in page

    data = {"code": child_code, "name": "Tên mới", "kind": "department", "parent": str(root.id),
            "email": "c@agency.test", "effective_from": "2026-01-01", "is_remote": "y"}  # fmt: skip
    url = f"/admin/agencies/{child.id}"
    assert post(url, data, page=url).status_code == 302
    entry = last_audit(db, "agency.update")
    assert entry.target_id == str(child.id)
    assert entry.before == {"name": f"Đơn vị {child_code}", "kind": "public_unit"}
    assert entry.after == {"name": "Tên mới", "kind": "department"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": ""}, "This field is required"),
        ({"email": "not-an-email"}, "valid email"),
        ({"effective_from": "2026-05-01", "effective_to": "2026-01-01"}, "after the start date"),
        ({"effective_from": "31/12/2026"}, "Not a valid date"),
        ({"parent": "999999"}, "Not a valid choice"),
        ({"code": "DN"}, "already used"),
    ],
)
def test_bad_agency_input_saves_nothing(post: Any, db: Any, tag: str, change: dict[str, str],
                                        message: str) -> None:  # fmt: skip
    count = db.session.scalar(select(func.count()).select_from(Agency))
    response = _new(post, f"{tag}-X".upper(), **change)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Agency)) == count


def test_agency_cannot_go_under_itself(post: Any, db: Any, tag: str) -> None:
    _new(post, f"{tag}-P".upper())
    parent = _agency(db, f"{tag}-P".upper())
    _new(post, f"{tag}-K".upper(), parent)
    kid = _agency(db, f"{tag}-K".upper())
    url = f"/admin/agencies/{parent.id}"
    data = {"code": parent.code, "name": parent.name, "kind": "public_unit", "parent": str(kid.id)}
    response = post(url, data, page=url)
    assert response.status_code == 200
    assert "cannot be placed under itself" in response.get_data(as_text=True)
    assert _agency(db, parent.code).parent_id is None


@pytest.fixture
def merge_setup(app: Any, db: Any, post: Any, tag: str, cleanup: None) -> dict[str, Any]:
    """Root R with units A, B (A has a child village C) and successor S; users, rules, tickets."""
    codes = {k: f"{tag}-{k}".upper() for k in "RABSC"}
    _new(post, codes["R"], kind="province")
    root = _agency(db, codes["R"])
    for key in "ABS":
        _new(post, codes[key], root)
    _new(post, codes["C"], _agency(db, codes["A"]), kind="village")
    ids = {k: _agency(db, c).id for k, c in codes.items()}
    user_a = create_user(f"{tag}.a", "Cán bộ A", "officer", codes["A"], DEMO_PASSWORD)
    user_b = create_user(f"{tag}.b", "Cán bộ B", "officer", codes["B"], DEMO_PASSWORD)
    rule_t = RoutingRule(position=9000, name=f"{tag} target A", target_agency_id=ids["A"],
                         active=False)  # fmt: skip
    rule_area = RoutingRule(position=9001, name=f"{tag} area B", area_agency_id=ids["B"],
                            target_agency_id=ids["S"], active=False)  # fmt: skip
    db.session.add_all([rule_t, rule_area])
    db.session.commit()
    folder = app.config["UPLOAD_FOLDER"]
    open_a = file_ticket(db.session, folder, agency=codes["A"])
    open_b = file_ticket(db.session, folder, agency=codes["B"])
    open_b.status = "accepted"
    closed_a = file_ticket(db.session, folder, agency=codes["A"])
    closed_a.status = "closed"
    db.session.commit()
    return {"ids": ids, "codes": codes, "users": [user_a.id, user_b.id],
            "rules": [rule_t.id, rule_area.id], "open": [open_a.id, open_b.id],
            "closed": closed_a.id, "statuses": {open_a.id: "routed", open_b.id: "accepted"}}  # fmt: skip


def test_merge_moves_open_work_to_the_successor(post: Any, db: Any,
                                                merge_setup: dict[str, Any]) -> None:  # fmt: skip
    ids, day = merge_setup["ids"], dt.date.today()
    data = {"merged": [str(ids["A"]), str(ids["B"])], "successor": str(ids["S"]),
            "day": day.isoformat()}  # fmt: skip
    response = post("/admin/agencies/merge", data, page="/admin/agencies/merge")
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    for key in "AB":
        merged = db.session.get(Agency, ids[key])
        assert merged.effective_to == day
        assert [s.id for s in merged.successors] == [ids["S"]]
    assert db.session.get(Agency, ids["C"]).parent_id == ids["S"]
    for ticket_id in merge_setup["open"]:
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.agency_id == ids["S"]
        assert ticket.status == merge_setup["statuses"][ticket_id]  # the clock goes on
        event = db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.id.desc())
        ).first()  # fmt: skip
        assert (event.kind, event.public, event.body) == ("transferred", True, "agency merged")
        assert event.data["to_agency_id"] == ids["S"]
        assert event.data["from_agency_id"] in (ids["A"], ids["B"])
    closed = db.session.get(Ticket, merge_setup["closed"])
    assert closed.agency_id == ids["A"]  # history stays where it happened
    users = db.session.scalars(select(User).where(User.id.in_(merge_setup["users"]))).all()
    assert {u.agency_id for u in users} == {ids["S"]}
    rule_t, rule_area = (db.session.get(RoutingRule, i) for i in merge_setup["rules"])
    assert rule_t.target_agency_id == ids["S"] and rule_area.area_agency_id == ids["S"]
    entry = last_audit(db, "agency.merge")
    assert entry.target_id == str(ids["S"])
    assert entry.before["agencies"] == sorted(
        [merge_setup["codes"]["A"], merge_setup["codes"]["B"]]
    )
    assert sorted(entry.after["tickets"]) == sorted(merge_setup["open"])
    assert entry.after["effective_to"] == day.isoformat()
    # Nothing was deleted.
    assert all(db.session.get(Agency, i) is not None for i in ids.values())


def test_merge_refusals_change_nothing(post: Any, db: Any, merge_setup: dict[str, Any]) -> None:
    ids = merge_setup["ids"]
    url = "/admin/agencies/merge"
    cases = [
        ({"merged": [str(ids["A"]), str(ids["S"])], "successor": str(ids["S"])},
         "cannot be one of the merged"),
        ({"merged": [str(ids["R"])], "successor": str(ids["S"])}, "cannot lie under"),
        ({"merged": [str(ids["A"])], "successor": ""}, "This field is required"),
        ({"successor": str(ids["S"])}, "This field is required"),
    ]  # fmt: skip
    for data, message in cases:
        response = post(url, {**data, "day": dt.date.today().isoformat()}, page=url)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Agency, ids["A"]).effective_to is None
    assert db.session.get(Ticket, merge_setup["open"][0]).agency_id == ids["A"]


def test_merge_into_an_ended_agency_is_refused(db: Any, merge_setup: dict[str, Any]) -> None:
    ids = merge_setup["ids"]
    db.session.get(Agency, ids["S"]).effective_to = dt.date(2020, 1, 1)
    with pytest.raises(agencies.MergeError, match="not in effect"):
        agencies.merge(db.session, [ids["A"]], ids["S"], actor=None, day=dt.date.today(),
                       now=utcnow())  # fmt: skip
    db.session.rollback()


def test_merge_hands_the_triage_role_to_the_successor(db: Any,
                                                      merge_setup: dict[str, Any]) -> None:  # fmt: skip
    ids = merge_setup["ids"]
    db.session.get(Agency, ids["A"]).is_triage = True  # never committed: rolled back below
    result = agencies.merge(db.session, [ids["A"]], ids["S"], actor=None, day=dt.date.today())
    assert result.triage_moved
    assert db.session.get(Agency, ids["S"]).is_triage is True
    assert db.session.get(Agency, ids["A"]).is_triage is False
    db.session.rollback()
