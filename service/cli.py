"""Flask CLI: demo data, users, and the reference data every install needs."""

from __future__ import annotations

import click
from flask import Flask, current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from .domain.deadlines import DEFAULT_POLICIES
from .domain.holidays_vn import VN_HOLIDAYS
from .extensions import db
from .models import Agency, Category, DeadlinePolicy, Holiday, RoutingRule, User

DEMO_PASSWORD = "pakn-demo-2026"

# code, name, English name, kind, parent code, remote?, triage?
DEMO_AGENCIES = [
    (
        "DN",
        "UBND thành phố Đà Nẵng",
        "Da Nang City People's Committee",
        "province",
        None,
        False,
        False,
    ),
    (
        "DN-VP",
        "Văn phòng UBND thành phố",
        "Office of the City People's Committee",
        "office",
        "DN",
        False,
        True,
    ),
    ("DN-SNV", "Sở Nội vụ", "Department of Home Affairs", "department", "DN", False, False),
    ("DN-TTR", "Thanh tra thành phố", "City Inspectorate", "department", "DN", False, False),
    (
        "DN-SNNMT",
        "Sở Nông nghiệp và Môi trường",
        "Department of Agriculture and Environment",
        "department",
        "DN",
        False,
        False,
    ),
    ("DN-SXD", "Sở Xây dựng", "Department of Construction", "department", "DN", False, False),
    ("DN-SYT", "Sở Y tế", "Department of Health", "department", "DN", False, False),
    (
        "DN-SGDDT",
        "Sở Giáo dục và Đào tạo",
        "Department of Education and Training",
        "department",
        "DN",
        False,
        False,
    ),
    (
        "DN-HAICHAU",
        "UBND phường Hải Châu",
        "Hai Chau Ward People's Committee",
        "ward",
        "DN",
        False,
        False,
    ),
    (
        "DN-THANHKHE",
        "UBND phường Thanh Khê",
        "Thanh Khe Ward People's Committee",
        "ward",
        "DN",
        False,
        False,
    ),
    (
        "DN-SONTRA",
        "UBND phường Sơn Trà",
        "Son Tra Ward People's Committee",
        "ward",
        "DN",
        False,
        False,
    ),
    (
        "DN-HOIAN",
        "UBND phường Hội An",
        "Hoi An Ward People's Committee",
        "ward",
        "DN",
        False,
        False,
    ),
    (
        "DN-TAMKY",
        "UBND phường Tam Kỳ",
        "Tam Ky Ward People's Committee",
        "ward",
        "DN",
        False,
        False,
    ),
    (
        "DN-HOAVANG",
        "UBND xã Hòa Vang",
        "Hoa Vang Commune People's Committee",
        "commune",
        "DN",
        False,
        False,
    ),
    (
        "DN-TRALINH",
        "UBND xã Trà Linh",
        "Tra Linh Commune People's Committee",
        "commune",
        "DN",
        True,
        False,
    ),
]
# code, vi, en, group, requires identity
DEMO_CATEGORIES = [
    ("env", "Môi trường, rác thải", "Environment and waste", "urban", False),
    ("urban", "Trật tự đô thị, lấn chiếm vỉa hè", "Urban order and sidewalks", "urban", False),
    ("traffic", "Giao thông, hư hỏng đường", "Traffic and road damage", "infrastructure", False),
    ("lighting", "Chiếu sáng, cây xanh", "Street lighting and trees", "infrastructure", False),
    ("land", "Đất đai, xây dựng", "Land and construction", "land", False),
    ("admin", "Thủ tục hành chính", "Administrative procedures", "administration", True),
    ("health", "Y tế, an toàn thực phẩm", "Health and food safety", "social", False),
    ("education", "Giáo dục", "Education", "social", False),
    ("other", "Khác", "Other", "other", False),
]
# name, kinds, category, area, keywords, target, to area, priority, stop
DEMO_RULES = [
    ("Tố cáo → Thanh tra", ["denunciation"], None, None, None, "DN-TTR", False, None, True),
    (
        "Khẩn cấp: ngập, sạt lở, cây đổ",
        None,
        None,
        None,
        ["ngập", "sạt lở", "cây đổ", "cháy"],
        None,
        False,
        "urgent",
        False,
    ),
    ("Đất đai → Sở NN&MT", None, "land", None, None, "DN-SNNMT", False, None, True),
    ("Giao thông → Sở Xây dựng", None, "traffic", None, None, "DN-SXD", False, None, True),
    ("Thủ tục hành chính → Sở Nội vụ", None, "admin", None, None, "DN-SNV", False, None, True),
    ("Y tế → Sở Y tế", None, "health", None, None, "DN-SYT", False, None, True),
    ("Giáo dục → Sở GD&ĐT", None, "education", None, None, "DN-SGDDT", False, None, True),
    ("Việc tại địa phương → UBND xã/phường", None, None, None, None, None, True, None, True),
]
# username, full name, role, agency
DEMO_USERS = [
    ("admin", "Quản trị hệ thống", "admin", "DN-VP"),
    ("hotline", "Tổng đài viên 1022", "operator", "DN-VP"),
    ("canbo.haichau", "Nguyễn Thị Lan (P. Hải Châu)", "officer", "DN-HAICHAU"),
    ("canbo.thanhkhe", "Trần Văn Minh (P. Thanh Khê)", "officer", "DN-THANHKHE"),
    ("canbo.xaydung", "Lê Quốc Huy (Sở Xây dựng)", "officer", "DN-SXD"),
    ("canbo.thanhtra", "Phạm Thu Hà (Thanh tra)", "officer", "DN-TTR"),
    ("canbo.vanphong", "Võ Minh Tâm (Văn phòng)", "officer", "DN-VP"),
    ("lanhdao.xaydung", "Đặng Văn Sơn (Lãnh đạo Sở Xây dựng)", "lead", "DN-SXD"),
    ("giamsat", "Hoàng Thị Mai (Sở Nội vụ)", "supervisor", "DN"),
]

DEMO_REVEALERS = ("giamsat",)


def seed_reference_data() -> None:
    """Holidays 2025–2027 and the legal deadline policies; safe to run again."""
    known_days = set(db.session.scalars(select(Holiday.day)))
    for day, name_vi, name_en, kind in VN_HOLIDAYS:
        if day not in known_days:
            db.session.add(Holiday(day=day, name=name_vi, name_en=name_en, kind=kind))
    known = {(p.kind, p.category_id) for p in db.session.scalars(select(DeadlinePolicy))}
    for row in DEFAULT_POLICIES:
        if row.get("category_code") is None and (row["kind"], None) not in known:
            fields = {k: v for k, v in row.items() if k != "category_code"}
            db.session.add(DeadlinePolicy(category_id=None, **fields))
    db.session.commit()


def create_user(
    username: str, full_name: str, role: str, agency_code: str | None, password: str
) -> User:
    agency = (
        db.session.scalars(select(Agency).where(Agency.code == agency_code)).first()
        if agency_code
        else None
    )
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, full_name=full_name, role=role, password_hash="")
        db.session.add(user)
    user.full_name, user.role, user.agency_id = full_name, role, agency.id if agency else None
    user.password_hash = generate_password_hash(password)
    db.session.commit()
    return user


def load_demo_data() -> None:
    seed_reference_data()
    agencies: dict[str, Agency] = {a.code: a for a in db.session.scalars(select(Agency))}
    for code, name, name_en, kind, parent, remote, triage in DEMO_AGENCIES:
        if code not in agencies:
            agencies[code] = Agency(code=code, name=name, name_en=name_en, kind=kind,
                                    parent=agencies.get(parent) if parent else None,
                                    is_remote=remote, is_triage=triage,
                                    email=f"{code.lower()}@agency.pakn.localhost")  # fmt: skip
            db.session.add(agencies[code])
    categories = {c.code: c for c in db.session.scalars(select(Category))}
    for code, vi, en, group, identity in DEMO_CATEGORIES:
        if code not in categories:
            categories[code] = Category(code=code, name_vi=vi, name_en=en, group=group,
                                        requires_identity=identity)  # fmt: skip
            db.session.add(categories[code])
    db.session.flush()
    if not db.session.scalar(select(RoutingRule.id).limit(1)):
        for position, (name, kinds, cat, area, kw, target, to_area, prio, stop) in enumerate(
            DEMO_RULES
        ):
            db.session.add(RoutingRule(
                position=(position + 1) * 10, name=name, kinds=kinds,
                category_id=categories[cat].id if cat else None,
                area_agency_id=agencies[area].id if area else None, keywords=kw,
                target_agency_id=agencies[target].id if target else None,
                route_to_area=to_area, priority=prio, stop=stop,
            ))  # fmt: skip
    db.session.commit()
    for username, full_name, role, agency in DEMO_USERS:
        create_user(username, full_name, role, agency, DEMO_PASSWORD)
    # The demo supervisor may unseal a denouncer's identity (with a reason; audited).
    for user in db.session.scalars(select(User).where(User.username.in_(DEMO_REVEALERS))):
        user.can_reveal_identity = True
    db.session.commit()


def register_cli(app: Flask) -> None:
    from .mail_cli import register as register_mail_cli

    register_mail_cli(app)

    from .gendata import register as register_gendata

    register_gendata(app)

    @app.cli.command("demo-data")
    def demo_data() -> None:
        """Load a sample province: agencies, categories, routing rules, one user per role."""
        load_demo_data()
        click.echo(f"Demo data loaded. Staff logins (password {DEMO_PASSWORD}):")
        for username, full_name, role, agency in DEMO_USERS:
            click.echo(f"  {username:<18} {role:<11} {agency:<12} {full_name}")

    @app.cli.command("seed-reference")
    def seed_reference() -> None:
        """Holidays 2025–2027 and legal deadline policies (also done by the first migration)."""
        seed_reference_data()
        click.echo("Reference data present.")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--name", "full_name", required=True)
    @click.option(
        "--role",
        type=click.Choice(["operator", "officer", "lead", "supervisor", "admin"]),
        required=True,
    )
    @click.option("--agency", "agency_code")
    @click.password_option()
    def create_user_cmd(
        username: str, full_name: str, role: str, agency_code: str | None, password: str
    ) -> None:
        """Create or update a staff account."""
        create_user(username, full_name, role, agency_code, password)
        click.echo(f"User {username} saved.")

    @app.cli.command("sweep")
    def sweep_cmd() -> None:
        """Re-enqueue lost work once (the scheduler does this every SWEEP_INTERVAL_SECONDS)."""
        from workers.sweeper import sweep

        click.echo(sweep(db.session))

    @app.cli.command("config")
    def show_config() -> None:
        """Print the effective database and Redis settings."""
        click.echo(f"DATABASE_URL={current_app.config['SQLALCHEMY_DATABASE_URI']}")
        click.echo(f"REDIS_URL={current_app.config['REDIS_URL']}")

    # --- Chat channels (Telegram, Zalo Bot): webhook registration and polling ---
    from channels.cli import register as register_chat_cli

    register_chat_cli(app)
