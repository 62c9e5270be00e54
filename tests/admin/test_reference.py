"""Categories, routing rules, deadline policies, holidays and response templates: CRUD through
the HTTP client, validation, audit entries and the reference caches."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from service.domain import refdata
from service.models import (
    Category,
    DeadlinePolicy,
    Holiday,
    ResponseTemplate,
    RoutingRule,
)
from tests.admin.conftest import last_audit

EXTRA = [{"name": "plate", "label_vi": "Biển số", "label_en": "Plate", "type": "text"}]


def _category(db: Any, code: str) -> Category | None:
    db.session.expire_all()
    return db.session.scalars(select(Category).where(Category.code == code)).first()


def _category_data(code: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "name_vi": "Thử nghiệm", "name_en": "Trial", "group": "test",
            "active": "y", **extra}  # fmt: skip


def test_category_crud_extra_fields_and_cache(post: Any, db: Any, tag: str,
                                              cleanup: None) -> None:  # fmt: skip
    url = "/admin/categories/new"
    response = post(url, _category_data(tag, extra_fields=json.dumps(EXTRA)), page=url)
    assert response.status_code == 302
    category = _category(db, tag)
    assert category.extra_fields == EXTRA and category.requires_identity is False
    assert refdata.category_by_code(db.session, tag).requires_identity is False  # now cached

    edit = f"/admin/categories/{category.id}"
    data = _category_data(tag, extra_fields=json.dumps(EXTRA), requires_identity="y")
    assert post(edit, data, page=edit).status_code == 302
    entry = last_audit(db, "category.update")
    assert (entry.before, entry.after) == (
        {"requires_identity": False},
        {"requires_identity": True},
    )
    # The edit cleared the cache: intake sees the new rule at once.
    assert refdata.category_by_code(db.session, tag).requires_identity is True

    for bad, message in [
        ("{not json", "Not valid JSON"),
        ('{"name": "x"}', "Must be a JSON list"),
        ('[{"name": "x"}]', "must have exactly"),
        (json.dumps([{**EXTRA[0], "type": "colour"}]), "type must be one of"),
        (json.dumps(EXTRA * 2), "used twice"),
    ]:
        response = post(edit, _category_data(tag, extra_fields=bad), page=edit)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    assert _category(db, tag).extra_fields == EXTRA
    # Clearing the text removes the extra fields.
    assert post(edit, _category_data(tag, extra_fields=""), page=edit).status_code == 302
    assert _category(db, tag).extra_fields is None


def _rule_data(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "position": "5", "keywords": "zzadmintest", "priority": "",
            "stop": "y", "active": "y", "category": "", "area": "", "target": "", **extra}  # fmt: skip


def _rule(db: Any, name: str) -> RoutingRule | None:
    db.session.expire_all()
    return db.session.scalars(select(RoutingRule).where(RoutingRule.name == name)).first()


def test_rule_crud_move_and_delete(admin: Any, post: Any, db: Any, tag: str,
                                   cleanup: None) -> None:  # fmt: skip
    sxd = db.session.scalars(select(Category.id).where(Category.code == "traffic")).one()
    url = "/admin/rules/new"
    data = _rule_data(f"{tag} a", kinds=["feedback", "complaint"], channels=["web"],
                      category=str(sxd), keywords="ổ gà\nhố sâu, sụt lún", priority="high")  # fmt: skip
    assert post(url, data, page=url).status_code == 302
    rule = _rule(db, f"{tag} a")
    assert rule.kinds == ["feedback", "complaint"] and rule.channels == ["web"]
    assert rule.keywords == ["ổ gà", "hố sâu", "sụt lún"] and rule.priority == "high"
    assert last_audit(db, "rule.create").after["keywords"] == ["ổ gà", "hố sâu", "sụt lún"]

    both = _rule_data(f"{tag} bad", route_to_area="y", target=str(rule.id and _any_agency(db)))
    response = post(url, both, page=url)
    assert response.status_code == 200 and "either a target agency" in response.get_data(True)
    response = post(url, _rule_data(f"{tag} bad", position="-3"), page=url)
    assert response.status_code == 200 and _rule(db, f"{tag} bad") is None

    edit = f"/admin/rules/{rule.id}"
    assert post(edit, {**data, "active": ""}, page=edit).status_code == 302
    assert _rule(db, f"{tag} a").active is False
    entry = last_audit(db, "rule.update")
    assert (entry.before, entry.after) == ({"active": True}, {"active": False})

    # Reorder: moving the rule down swaps it with the next one; positions are renumbered.
    ordered = db.session.scalars(select(RoutingRule).order_by(RoutingRule.position,
                                                              RoutingRule.id)).all()  # fmt: skip
    index = [r.id for r in ordered].index(rule.id)
    following = ordered[index + 1].id
    assert post(f"/admin/rules/{rule.id}/move", {"direction": "down"}).status_code == 302
    db.session.expire_all()
    ids = list(db.session.scalars(select(RoutingRule.id).order_by(RoutingRule.position)))
    assert ids.index(rule.id) == ids.index(following) + 1
    positions = list(
        db.session.scalars(select(RoutingRule.position).order_by(RoutingRule.position))
    )
    assert positions == [10 * (n + 1) for n in range(len(positions))]
    assert str(rule.id) in last_audit(db, "rule.reorder").after["positions"]
    page = admin.get("/admin/rules").get_data(as_text=True)
    assert page.index(f'data-id="{following}"') < page.index(f'data-id="{rule.id}"')

    post(f"/admin/rules/{rule.id}/delete", {})  # not confirmed: kept
    assert _rule(db, f"{tag} a") is not None
    post(f"/admin/rules/{rule.id}/delete", {"confirm": "y"})
    assert _rule(db, f"{tag} a") is None
    assert last_audit(db, "rule.delete").before["name"] == f"{tag} a"


def _any_agency(db: Any) -> int:
    from service.models import Agency

    return db.session.scalars(select(Agency.id).where(Agency.code == "DN-SXD")).one()


def _policy_data(category_id: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "feedback", "category": str(category_id), "name_vi": "Thời hạn thử",
            "name_en": "Trial clock", "acceptance_days": "3", "acceptance_unit": "working",
            "resolution_days": "15", "resolution_unit": "calendar", "extension_days": "5",
            "max_extensions": "1", "max_total_resolution_days": "30", "due_soon_days": "2",
            **extra}  # fmt: skip


def test_policy_crud_and_validation(post: Any, db: Any, tag: str, cleanup: None) -> None:
    post("/admin/categories/new", _category_data(tag), page="/admin/categories/new")
    category = _category(db, tag)
    url = "/admin/policies/new"
    assert post(url, _policy_data(category.id), page=url).status_code == 302
    policy = db.session.scalars(
        select(DeadlinePolicy).where(DeadlinePolicy.category_id == category.id)
    ).one()
    assert (policy.acceptance_days, policy.resolution_unit, policy.complex_resolution_days) == (
        3, "calendar", None)  # fmt: skip
    from service.domain.handling import policy_for

    assert policy_for(db.session, "feedback", category.id).resolution_days == 15
    count = db.session.scalar(select(func.count()).select_from(DeadlinePolicy))
    for extra, message in [
        ({"acceptance_days": "0"}, "between 1 and"),
        ({"resolution_days": "-5"}, "between 1 and"),
        ({"resolution_days": "abc"}, "Not a valid integer"),
        ({"acceptance_unit": "fortnight"}, "Not a valid choice"),
        ({"max_total_resolution_days": "10"}, "less than the resolution days"),
        ({}, "already exists"),
    ]:
        response = post(url, _policy_data(category.id, **extra), page=url)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True), message
    assert db.session.scalar(select(func.count()).select_from(DeadlinePolicy)) == count

    edit = f"/admin/policies/{policy.id}"
    assert post(edit, _policy_data(category.id, resolution_days="20"), page=edit).status_code == 302
    entry = last_audit(db, "policy.update")
    assert (entry.before, entry.after) == ({"resolution_days": 15}, {"resolution_days": 20})
    policy_id = policy.id
    post(f"/admin/policies/{policy_id}/delete", {"confirm": "y"})
    db.session.expire_all()
    assert db.session.get(DeadlinePolicy, policy_id) is None
    assert last_audit(db, "policy.delete").before["resolution_days"] == 20


def test_holiday_calendar(admin: Any, post: Any, db: Any, tag: str, cleanup: None) -> None:
    assert admin.get("/admin/holidays").location.endswith("/admin/holidays/2026")
    seeded = admin.get("/admin/holidays/2026").get_data(as_text=True)
    assert 'data-day="2026-09-02"' in seeded  # National Day, seeded
    url = "/admin/holidays/2031"
    data = {"day": "2031-03-03", "name": f"{tag} nghỉ bù", "kind": "holiday"}
    assert post(url, data, page=url).status_code == 302
    holiday = db.session.scalars(select(Holiday).where(Holiday.name == f"{tag} nghỉ bù")).one()
    holiday_id, day = holiday.id, holiday.day
    assert refdata.work_calendar(db.session).holidays >= {holiday.day}
    assert last_audit(db, "holiday.create").after["day"] == "2031-03-03"
    for extra, message in [
        ({"day": "2030-03-04"}, "must be in 2031"),
        ({"day": "2031-03-03"}, "already in the calendar"),
        ({"day": "2031-03-04", "kind": "workday"}, "Saturday or Sunday"),
        ({"day": "2031-03-05", "name": ""}, "This field is required"),
    ]:
        response = post(url, {**data, **extra}, page=url)
        assert response.status_code == 200 and message in response.get_data(as_text=True)
    post(url, {**data, "day": "2031-03-08", "kind": "workday"}, page=url)  # a Saturday
    assert refdata.work_calendar(db.session).workdays >= {day.replace(day=8)}
    post(f"/admin/holidays/{holiday_id}/delete", {"confirm": "y"})
    db.session.expire_all()
    assert db.session.get(Holiday, holiday_id) is None
    assert day not in refdata.work_calendar(db.session).holidays
    assert last_audit(db, "holiday.delete").before["name"] == f"{tag} nghỉ bù"


def test_response_template_crud(admin: Any, post: Any, db: Any, tag: str, cleanup: None) -> None:
    env = db.session.scalars(select(Category.id).where(Category.code == "env")).one()
    url = "/admin/templates/new"
    data = {"name": f"{tag} mẫu", "category": str(env), "active": "y",
            "body_vi": "Kính gửi {citizen_name}, hồ sơ {code} đã được tiếp nhận.", "body_en": ""}  # fmt: skip
    assert post(url, data, page=url).status_code == 302
    template = db.session.scalars(
        select(ResponseTemplate).where(ResponseTemplate.name == f"{tag} mẫu")
    ).one()
    assert template.category_id == env and template.body_en is None
    response = post(url, {**data, "body_vi": ""}, page=url)
    assert response.status_code == 200 and "This field is required" in response.get_data(True)
    edit = f"/admin/templates/{template.id}"
    assert (
        post(edit, {**data, "category": "", "body_en": "Dear citizen"}, page=edit).status_code
        == 302
    )
    entry = last_audit(db, "template.update")
    assert entry.before == {"category_id": env, "body_en": None}
    assert entry.after == {"category_id": None, "body_en": "Dear citizen"}
    assert f"{tag} mẫu" in admin.get("/admin/templates").get_data(as_text=True)
    template_id = template.id
    post(f"/admin/templates/{template_id}/delete", {"confirm": "y"})
    db.session.expire_all()
    assert db.session.get(ResponseTemplate, template_id) is None
    assert last_audit(db, "template.delete").target_id == str(template_id)
