"""`flask gen-data`: realistic tickets, events, citizens and contacts in bulk (benchmarks, demos).

Rows are built in Python with one seeded RNG and written with COPY on PostgreSQL (secondary
indexes are dropped during a large load and rebuilt after, then ANALYZE); elsewhere (SQLite, small
counts in tests) with executemany. The ORM is not used for the bulk rows: it would take hours.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from .domain import rollup
from .domain.calendar import WorkCalendar
from .domain.lifecycle import OPEN_STATUSES
from .domain.refdata import work_calendar
from .domain.search import PG_DOCUMENT_SQL, document_text
from .models import Agency, Category, Citizen, CitizenContact, DeadlinePolicy, Ticket, User
from .models.console import TicketSearch
from .models.ticket import TicketEvent

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
START = dt.datetime(2025, 1, 1, tzinfo=LOCAL_TZ)
END = dt.datetime(2026, 11, 25, 17, 0, tzinfo=LOCAL_TZ)
# Chat-heavy mix (Zalo is the main messenger in Viet Nam).
CHANNEL_MIX = {"zalo_oa": 24, "zalo_bot": 12, "telegram": 6, "web": 22, "hotline": 18,
               "email": 8, "api": 10}  # fmt: skip
KIND_MIX = {"feedback": 52, "recommendation": 27, "complaint": 14, "denunciation": 7}
CATEGORY_MIX = {"env": 18, "urban": 18, "traffic": 15, "lighting": 10, "land": 10, "admin": 8,
                "health": 6, "education": 5, "other": 10}  # fmt: skip
# Category → the department the demo routing rules send it to; others go to the ward/commune.
CATEGORY_TARGET = {"land": "DN-SNNMT", "traffic": "DN-SXD", "admin": "DN-SNV",
                   "health": "DN-SYT", "education": "DN-SGDDT"}  # fmt: skip
CONTACT_CHANNEL = {"web": "email", "email": "email", "hotline": "phone", "api": "phone",
                   "telegram": "telegram", "zalo_oa": "zalo_oa", "zalo_bot": "zalo_bot"}  # fmt: skip
EXTRA_AREA_NAMES = (
    "Hòa Khánh", "Liên Chiểu", "Hòa Minh", "Thanh Bình", "Thạc Gián", "An Hải", "Mỹ An",
    "Ngũ Hành Sơn", "Hòa Quý", "Cẩm Lệ", "Hòa Xuân", "Khuê Trung", "Hòa Cường", "An Khê",
    "Điện Bàn", "Điện Ngọc", "Điện Bàn Bắc", "Điện Thắng", "Duy Xuyên", "Duy Nghĩa", "Thăng Bình",
    "Thăng An", "Núi Thành", "Tam Anh", "Tiên Phước", "Hiệp Đức", "Quế Sơn", "Nông Sơn",
    "Đại Lộc", "Hà Nha", "Đông Giang", "Tây Giang", "Nam Giang", "Phước Sơn", "Bắc Trà My",
    "Nam Trà My", "Hòa Tiến", "Hòa Phong", "Bà Nà", "Hải Vân", "Bàn Thạch", "Quảng Phú",
    "Hương Trà", "Cẩm Thanh", "Tân Hiệp", "Sông Kôn", "Thạnh Mỹ", "Khâm Đức", "Việt An", "Tam Xuân",
)  # fmt: skip
STREETS = ("Hồng Bàng", "Lê Duẩn", "Nguyễn Văn Linh", "Trần Phú", "Bạch Đằng", "Hùng Vương",
           "Điện Biên Phủ", "Ngô Quyền", "Phan Châu Trinh", "Hoàng Diệu", "Núi Thành",
           "Ông Ích Khiêm", "Lý Thường Kiệt", "Quang Trung", "Tôn Đức Thắng", "Nguyễn Tất Thành",
           "Lê Văn Hiến", "Võ Nguyên Giáp", "Trưng Nữ Vương", "Hải Phòng")  # fmt: skip
TITLES = {
    "env": ["Rác thải tồn đọng trên đường {s}", "Nước thải chảy tràn ra đường {s}",
            "Khói bụi từ công trình gần đường {s}", "Mùi hôi từ cống thoát nước đường {s}"],
    "urban": ["Lấn chiếm vỉa hè trên đường {s}", "Quán ăn bày bàn ghế ra lòng đường {s}",
              "Đậu xe trái phép trước số {n} đường {s}", "Tiếng ồn karaoke khu dân cư đường {s}"],
    "traffic": ["Đường {s} hỏng nặng, nhiều ổ gà", "Mặt đường {s} bị sụt lún nguy hiểm",
                "Đèn tín hiệu giao thông ngã tư {s} hỏng", "Nắp hố ga trên đường {s} bị vỡ"],
    "lighting": ["Đèn đường {s} không sáng", "Cây xanh trên đường {s} có nguy cơ gãy đổ",
                 "Cây đổ chắn lối đi đường {s}", "Đèn chiếu sáng kiệt {n} {s} hư hỏng"],
    "land": ["Xây dựng không phép tại số {n} đường {s}", "Tranh chấp ranh giới đất gần đường {s}",
             "Chậm cấp giấy chứng nhận quyền sử dụng đất", "Đổ đất lấn chiếm kênh gần đường {s}"],
    "admin": ["Hồ sơ đăng ký hộ tịch quá hạn", "Thủ tục cấp phép kinh doanh kéo dài",
              "Kiến nghị đơn giản hóa thủ tục đăng ký thường trú", "Cán bộ một cửa hướng dẫn chưa rõ"],
    "health": ["Cơ sở kinh doanh thực phẩm mất vệ sinh đường {s}", "Dịch sốt xuất huyết khu dân cư {s}",
               "Nhà thuốc bán thuốc không rõ nguồn gốc", "Thời gian chờ khám bệnh quá lâu"],
    "education": ["Trường học thu các khoản ngoài quy định", "Kiến nghị bố trí thêm lớp bán trú",
                  "Cổng trường đường {s} ùn tắc giờ tan học", "Học thêm trái quy định"],
    "other": ["Kiến nghị lắp camera an ninh đường {s}", "Góp ý về dịch vụ công trực tuyến",
              "Chó thả rông trên đường {s}", "Đề nghị bố trí thêm trạm xe buýt đường {s}"],
}  # fmt: skip
DETAILS = ("Tình trạng kéo dài nhiều tuần, ảnh hưởng đến sinh hoạt của người dân.",
           "Người dân đã phản ánh với tổ dân phố nhưng chưa được xử lý.",
           "Đề nghị cơ quan chức năng kiểm tra và xử lý dứt điểm.",
           "Buổi tối rất nguy hiểm cho người đi đường, nhất là trẻ em và người già.",
           "Kính mong lãnh đạo quan tâm giải quyết sớm.",
           "Có hình ảnh kèm theo, có thể liên hệ để xác minh thêm.")  # fmt: skip
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi", "Đỗ")
MIDDLE = ("Văn", "Thị", "Minh", "Ngọc", "Thanh", "Quốc", "Hữu", "Thu", "Đức", "Kim")
GIVEN = ("An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hạnh", "Hùng", "Lan", "Linh", "Mai",
         "Nam", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy")  # fmt: skip
REPLIES = (
    "Đơn vị đã tiếp nhận và cử cán bộ kiểm tra thực tế.",
    "Đã phối hợp với đơn vị liên quan để xử lý.",
    "Đã yêu cầu khắc phục trong tuần.",
)
RESULTS = ("Đã xử lý xong, hiện trạng đã được khắc phục.",
           "Đã kiểm tra, xử phạt vi phạm hành chính và yêu cầu khắc phục.",
           "Đã trả lời, hướng dẫn công dân thực hiện theo quy định.")  # fmt: skip

TICKET_COLS = (
    "id", "code", "tracking_token", "kind", "legal_form", "channel", "category_id", "status",
    "priority", "title", "description", "address", "area_agency_id", "agency_id",
    "initial_agency_id", "assignee_id", "citizen_id", "reply_contact_id", "confidential",
    "is_complex", "is_remote", "received_at", "routed_at", "accepted_at", "first_response_at",
    "resolved_at", "closed_at", "acceptance_due", "resolution_due", "extensions", "paused_days",
    "due_state", "resolution", "updated_at", "first_response_wd", "resolution_wd",
    "resolved_on_time",
)  # fmt: skip
EVENT_COLS = ("ticket_id", "created_at", "kind", "public", "actor_id", "actor_label",
              "from_status", "to_status", "body", "data")  # fmt: skip
CITIZEN_COLS = ("id", "full_name", "address", "language", "created_at")
CONTACT_COLS = ("id", "citizen_id", "channel", "external_id", "display", "created_at")


def _pick(rng: random.Random, mix: dict[str, int]) -> Callable[[], str]:
    keys, weights = list(mix), list(mix.values())
    return lambda: rng.choices(keys, weights)[0]


@dataclass
class Refs:
    """Reference rows the generator draws from, loaded once."""

    categories: dict[str, int]
    agencies: dict[str, int]
    areas: list[int]
    area_weights: list[float]
    remote: set[int]
    officers: dict[int, list[int]]
    policies: dict[str, tuple[int, str, int, str]]
    cal: WorkCalendar
    prefix: str
    _due_cache: dict[tuple[dt.date, int, str], dt.date] = field(default_factory=dict)

    def due(self, start: dt.date, days: int, unit: str) -> dt.date:
        key = (start, days, unit)
        if key not in self._due_cache:
            self._due_cache[key] = self.cal.add(start, days, unit)
        return self._due_cache[key]


class Workdays:
    """Working days counted from a fixed origin: a span is one subtraction."""

    def __init__(self, cal: WorkCalendar, first: dt.date, last: dt.date) -> None:
        self.first, self.index, count, day = first, [], 0, first
        while day <= last:
            count += 1 if cal.is_working_day(day) else 0
            self.index.append(count)
            day += dt.timedelta(days=1)

    def between(self, a: dt.date, b: dt.date) -> int:
        return (
            0 if b <= a else self.index[(b - self.first).days] - self.index[(a - self.first).days]
        )


def ensure_extra_areas(session: Session, count: int) -> None:
    """Add `count` wards/communes under the province (codes DN-GEN-001…); idempotent."""
    province = session.scalar(select(Agency).where(Agency.code == "DN"))
    if province is None:
        raise click.ClickException("Run `flask demo-data` first: the province DN is missing.")
    known = set(session.scalars(select(Agency.code).where(Agency.code.like("DN-GEN-%"))))
    for i in range(count):
        code = f"DN-GEN-{i + 1:03d}"
        if code in known:
            continue
        base = EXTRA_AREA_NAMES[i % len(EXTRA_AREA_NAMES)]
        commune = i % 3 == 2
        name = f"UBND {'xã' if commune else 'phường'} {base}"
        if i >= len(EXTRA_AREA_NAMES):
            name += f" {i // len(EXTRA_AREA_NAMES) + 1}"
        session.add(Agency(code=code, name=name, name_en=f"{base} People's Committee",
                           kind="commune" if commune else "ward", parent_id=province.id,
                           is_remote=commune and i % 2 == 0))  # fmt: skip
    session.commit()


def load_refs(session: Session, prefix: str) -> Refs:
    agencies = dict(session.execute(select(Agency.code, Agency.id)).all())
    areas, weights, remote = [], [], set()
    for agency in session.scalars(select(Agency).where(Agency.kind.in_(("ward", "commune")))):
        areas.append(agency.id)
        # The demo wards are the busy urban ones.
        weights.append(1.0 if agency.code.startswith("DN-GEN-") else 6.0)
        if agency.is_remote:
            remote.add(agency.id)
    officers: dict[int, list[int]] = {}
    for user_id, agency_id in session.execute(
        select(User.id, User.agency_id).where(User.role.in_(("officer", "lead")))
    ):
        officers.setdefault(agency_id, []).append(user_id)
    policies = {
        p.kind: (p.acceptance_days, p.acceptance_unit, p.resolution_days, p.resolution_unit)
        for p in session.scalars(select(DeadlinePolicy).where(DeadlinePolicy.category_id.is_(None)))
    }
    categories = dict(session.execute(select(Category.code, Category.id)).all())
    return Refs(categories, agencies, areas, weights, remote, officers, policies,
                work_calendar(session), prefix)  # fmt: skip


@dataclass
class Batch:
    tickets: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    citizens: list[tuple[Any, ...]] = field(default_factory=list)
    contacts: list[tuple[Any, ...]] = field(default_factory=list)
    search: list[tuple[int, str]] = field(default_factory=list)


class Generator:
    """Builds one ticket at a time with its lifecycle cut at END (so statuses match the dates)."""

    def __init__(self, refs: Refs, seed: int, first_ids: dict[str, int], total: int) -> None:
        self.refs, self.rng = refs, random.Random(seed)
        self.ids = dict(first_ids)
        self.channel = _pick(self.rng, CHANNEL_MIX)
        self.kind = _pick(self.rng, KIND_MIX)
        self.category = _pick(self.rng, CATEGORY_MIX)
        self.days = Workdays(refs.cal, START.date() - dt.timedelta(days=5), dt.date(2028, 1, 1))
        self.pool = max(1, int(total * 0.7))  # about 1.4 tickets per citizen
        self.citizens: dict[int, int] = {}
        self.contacts: dict[tuple[int, str], int] = {}
        self.span = (END - START - dt.timedelta(days=1)).total_seconds()
        self.today = END.date()

    def _when(self) -> dt.datetime:
        # Volume grows over the two years (sqrt: more recent tickets), in office-ish hours.
        offset = self.span * self.rng.random() ** 0.8
        moment = START + dt.timedelta(seconds=offset)
        hour = min(22, max(6, int(self.rng.gauss(13, 3.5))))
        return moment.replace(hour=hour, minute=self.rng.randrange(60))

    def _later(self, moment: dt.datetime, working_days: int) -> dt.datetime:
        day = moment.astimezone(LOCAL_TZ).date()
        if working_days > 0:
            day = self.refs.due(day, working_days, "working")
        return dt.datetime.combine(day, dt.time(self.rng.randrange(8, 17), self.rng.randrange(60)),
                                   LOCAL_TZ).astimezone(dt.UTC)  # fmt: skip

    def _person(self, batch: Batch, channel: str, moment: dt.datetime) -> tuple[int, int]:
        slot = self.rng.randrange(self.pool)
        citizen_id = self.citizens.get(slot)
        if citizen_id is None:
            citizen_id = self.citizens[slot] = self.ids["citizen"]
            self.ids["citizen"] += 1
            name = f"{self.rng.choice(FAMILY)} {self.rng.choice(MIDDLE)} {self.rng.choice(GIVEN)}"
            batch.citizens.append((citizen_id, name, f"{self.rng.randrange(1, 300)} "
                                   f"{self.rng.choice(STREETS)}, Đà Nẵng", "vi", moment))  # fmt: skip
        contact_channel = CONTACT_CHANNEL[channel]
        contact_id = self.contacts.get((citizen_id, contact_channel))
        if contact_id is None:
            contact_id = self.contacts[(citizen_id, contact_channel)] = self.ids["contact"]
            self.ids["contact"] += 1
            external = {"email": f"nguoidan{citizen_id}@example.vn",
                        "phone": f"09{citizen_id:08d}"}.get(contact_channel, str(10**9 + citizen_id))  # fmt: skip
            batch.contacts.append((contact_id, citizen_id, contact_channel, external, external,
                                   moment))  # fmt: skip
        return citizen_id, contact_id

    def ticket(self, batch: Batch, json_data: bool) -> None:
        rng, refs = self.rng, self.refs
        ticket_id = self.ids["ticket"]
        self.ids["ticket"] += 1
        received = self._when().astimezone(dt.UTC)
        channel, kind, category = self.channel(), self.kind(), self.category()
        area = rng.choices(refs.areas, refs.area_weights)[0]
        if kind == "denunciation":
            agency = refs.agencies["DN-TTR"]
        elif category == "other" and rng.random() < 0.4:
            agency = refs.agencies["DN-VP"]  # triage keeps what no rule matched
        else:
            agency = refs.agencies.get(CATEGORY_TARGET.get(category, ""), area)
        initial = agency
        street = rng.choice(STREETS)
        title = rng.choice(TITLES[category]).format(s=street, n=rng.randrange(1, 200))
        description = f"{title}. {rng.choice(DETAILS)} {rng.choice(DETAILS)}"
        address = f"{rng.randrange(1, 300)} {street}"
        citizen_id = contact_id = None
        if not (channel == "web" and kind == "feedback" and rng.random() < 0.15):  # anonymous
            citizen_id, contact_id = self._person(batch, channel, received)
        acc_days, acc_unit, res_days, res_unit = refs.policies.get(
            kind, (5, "working", 15, "working")
        )
        received_on = received.astimezone(LOCAL_TZ).date()
        acceptance_due = refs.due(received_on, acc_days, acc_unit)
        is_remote = agency in refs.remote
        paused = 0
        # The planned lifecycle: (event kind, time, to status, public, body); cut at END below.
        routed = received + dt.timedelta(minutes=rng.randrange(1, 40))
        plan: list[tuple[str, dt.datetime, str, bool, str | None]] = [
            ("received", received, "received", True, None),
            ("routed", routed, "routed", True, None),
        ]
        fate = rng.random()
        if fate < 0.03:
            plan.append(("rejected", self._later(routed, rng.randrange(1, 4)), "rejected", True,
                         "Nội dung không thuộc thẩm quyền giải quyết."))  # fmt: skip
        elif fate < 0.05:
            plan.append(("duplicate", self._later(routed, 1), "duplicate", True, None))
        elif fate < 0.06:
            plan.append(("withdrawn", self._later(routed, 2), "withdrawn", True, None))
        else:
            last = routed
            if rng.random() < 0.07 and agency != area:  # sent to the wrong place first
                last = self._later(routed, rng.randrange(1, 3))
                plan.append(("transferred", last, "transferred", True,
                             "Chuyển đơn vị có thẩm quyền."))  # fmt: skip
                agency = area
            late = rng.random() < 0.06
            accepted = self._later(last, rng.randrange(acc_days + 1, acc_days + 4) if late
                                   else rng.randrange(0, max(1, acc_days)))  # fmt: skip
            plan.append(("accepted", accepted, "accepted", True, None))
            accepted_on = accepted.astimezone(LOCAL_TZ).date()
            resolution_due = refs.due(accepted_on, res_days, res_unit)
            window = max(1, self.days.between(accepted_on, resolution_due))
            if rng.random() < 0.06:
                paused = rng.randrange(2, 8)
                asked = self._later(accepted, 1)
                plan.append(("info_requested", asked, "need_info", True,
                             "Đề nghị cung cấp thêm hình ảnh, địa chỉ cụ thể."))  # fmt: skip
                plan.append(("info_provided", self._later(asked, paused), "accepted", True, None))
                resolution_due = refs.due(resolution_due, paused, "working")
            reply = self._later(plan[-1][1], rng.randrange(1, 4))
            plan.append(("replied", reply, "in_progress", True, rng.choice(REPLIES)))
            overrun = rng.random() < 0.12
            span = int(window * (rng.uniform(1.05, 1.6) if overrun else rng.uniform(0.3, 1.0)))
            resolved = max(reply, self._later(accepted, span + paused))
            plan.append(("resolved", resolved, "resolved", True, rng.choice(RESULTS)))
            if rng.random() < 0.6:
                plan.append(("closed", resolved + dt.timedelta(days=rng.randrange(7, 15)),
                             "closed", True, None))  # fmt: skip
            if rng.random() < 0.03:  # stalled: still open long after its deadline
                del plan[rng.randrange(2, len(plan) - 1) :]
        now = END.astimezone(dt.UTC)
        happened = [step for step in plan if step[1] <= now]
        stamp = {step[0]: step[1] for step in happened}
        status = happened[-1][2]
        accepted_at = stamp.get("accepted")
        resolution_due = None
        if accepted_at is not None:
            accepted_on = accepted_at.astimezone(LOCAL_TZ).date()
            resolution_due = refs.due(accepted_on, res_days, res_unit)
            if "info_provided" in stamp or status == "need_info":
                resolution_due = refs.due(resolution_due, paused, "working")
        first_response = stamp.get("replied") or stamp.get("resolved")
        resolved_at = stamp.get("resolved") or stamp.get("rejected")
        due_state = "none"
        if status in OPEN_STATUSES and status != "need_info":
            due = acceptance_due if status in ("routed", "transferred") else resolution_due
            if due is not None:
                left = self.days.between(self.today, due) if due >= self.today else -1
                due_state = "overdue" if due < self.today else ("due_soon" if left <= 2 else "ok")
        paused_days = paused if "info_provided" in stamp else 0
        first_wd = (self.days.between(received_on, first_response.astimezone(LOCAL_TZ).date())
                    - paused_days if first_response else None)  # fmt: skip
        resolution_wd = on_time = None
        if resolved_at is not None:
            resolved_on = resolved_at.astimezone(LOCAL_TZ).date()
            resolution_wd = max(0, self.days.between(received_on, resolved_on) - paused_days)
            limit = resolution_due or acceptance_due
            on_time = resolved_on <= limit
        staff = refs.officers.get(agency)
        assignee = rng.choice(staff) if staff and accepted_at is not None else None
        code = f"{refs.prefix}-{received.astimezone(LOCAL_TZ).year}-{ticket_id:06d}"
        batch.tickets.append((
            ticket_id, code, f"g{ticket_id:x}{rng.getrandbits(64):016x}", kind, "electronic",
            channel, refs.categories.get(category), status, "normal", title, description, address,
            area, agency, initial, assignee, citizen_id, contact_id, kind == "denunciation",
            False, is_remote, received, stamp.get("routed"), accepted_at, first_response,
            resolved_at, stamp.get("closed") or stamp.get("withdrawn"), acceptance_due, resolution_due, 0, paused_days,
            due_state, (happened[-1][4] if status in ("resolved", "closed", "rejected") else None),
            happened[-1][1], max(0, first_wd) if first_wd is not None else None, resolution_wd,
            on_time,
        ))  # fmt: skip
        previous = None
        for kind_name, moment, to_status, public, body in happened:
            actor = assignee if kind_name in ("replied", "resolved", "closed") else None
            label = "citizen" if kind_name in ("received", "info_provided") else (
                "officer" if actor or kind_name not in ("routed",) else "system")  # fmt: skip
            data = {"channel": channel} if kind_name == "received" else None
            if data is not None and json_data:
                data = json.dumps(data)
            batch.events.append((ticket_id, moment, kind_name, public, actor, label, previous,
                                 to_status, body, data))  # fmt: skip
            previous = to_status
        batch.search.append((ticket_id, document_text(code, title, description, address)))

    def batches(self, count: int, size: int, json_data: bool) -> Iterator[Batch]:
        done = 0
        while done < count:
            batch = Batch()
            for _ in range(min(size, count - done)):
                self.ticket(batch, json_data)
            done += len(batch.tickets)
            yield batch


def _next_ids(session: Session) -> dict[str, int]:
    return {
        "ticket": (session.scalar(select(func.max(Ticket.id))) or 0) + 1,
        "citizen": (session.scalar(select(func.max(Citizen.id))) or 0) + 1,
        "contact": (session.scalar(select(func.max(CitizenContact.id))) or 0) + 1,
    }


# Indexes rebuilt after a large PostgreSQL load (constraint-backed ones stay).
_INDEX_SQL = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename IN ('ticket', 'ticket_event')
  AND i.indexname NOT IN (SELECT conname FROM pg_constraint)
"""


def _copy(cursor: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_batches(raw: Any, gen: Generator, count: int, size: int,
                  echo: Callable[[str], None]) -> None:  # fmt: skip
    done, started = 0, time.monotonic()
    columns = ", ".join(TICKET_COLS)
    # Tickets go through a staging table so that their search vector is computed on the way in
    # (as routing does for a filed ticket) instead of by an UPDATE that would double the table.
    with raw.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS ticket_load (LIKE ticket) "
                       "ON COMMIT DELETE ROWS")  # fmt: skip
    for batch in gen.batches(count, size, json_data=True):
        with raw.cursor() as cursor:
            _copy(cursor, "citizen", CITIZEN_COLS, batch.citizens)
            _copy(cursor, "citizen_contact", CONTACT_COLS, batch.contacts)
            _copy(cursor, "ticket_load", TICKET_COLS, batch.tickets)
            cursor.execute(f"INSERT INTO ticket ({columns}, search_vector) "
                           f"SELECT {columns}, {PG_DOCUMENT_SQL} FROM ticket_load")  # fmt: skip
            _copy(cursor, "ticket_event", EVENT_COLS, batch.events)
        raw.commit()
        done += len(batch.tickets)
        echo(f"  {done:>9,} tickets  {time.monotonic() - started:6.0f} s")


def _load_postgresql(session: Session, gen: Generator, count: int, size: int,
                     echo: Callable[[str], None]) -> None:  # fmt: skip
    connection = session.connection()
    raw = connection.connection.driver_connection
    indexes = connection.execute(text(_INDEX_SQL)).all() if count >= 100_000 else []
    for name, _definition in indexes:
        connection.execute(text(f'DROP INDEX "{name}"'))
    session.commit()
    try:
        _copy_batches(raw, gen, count, size, echo)
    finally:  # a failed load must not leave the tables without their indexes
        if indexes:
            echo(f"Rebuilding {len(indexes)} indexes…")
        raw.rollback()
        with raw.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _name, definition in indexes:
                cursor.execute(definition)
            for table in ("ticket", "citizen", "citizen_contact"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            raw.commit()
    raw.autocommit = True
    try:
        with raw.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE ticket")
            cursor.execute("ANALYZE ticket_event")
            cursor.execute("ANALYZE citizen")
            cursor.execute("ANALYZE citizen_contact")
    finally:
        raw.autocommit = False


def _load_other(session: Session, gen: Generator, count: int, size: int,
                echo: Callable[[str], None]) -> None:  # fmt: skip
    """SQLite and the like: executemany through SQLAlchemy Core (tests, small counts)."""
    tables = ((Citizen.__table__, CITIZEN_COLS, "citizens"),
              (CitizenContact.__table__, CONTACT_COLS, "contacts"),
              (Ticket.__table__, TICKET_COLS, "tickets"),
              (TicketEvent.__table__, EVENT_COLS, "events"),
              (TicketSearch.__table__, ("ticket_id", "text"), "search"))  # fmt: skip
    done = 0
    for batch in gen.batches(count, size, json_data=False):
        for table, columns, attr in tables:
            rows = [dict(zip(columns, row, strict=True)) for row in getattr(batch, attr)]
            if rows:
                session.execute(table.insert(), rows)
        session.commit()
        done += len(batch.tickets)
        echo(f"  {done:>9,} tickets")


def generate(session: Session, tickets: int, *, seed: int = 1, batch: int = 20_000,
             extra_areas: int = 90, prefix: str = "PA",
             echo: Callable[[str], None] = lambda _m: None) -> dict[str, int]:  # fmt: skip
    """Add `tickets` tickets with events, citizens and contacts; returns the first ids used."""
    ensure_extra_areas(session, extra_areas)
    refs = load_refs(session, prefix)
    first = _next_ids(session)
    gen = Generator(refs, seed, first, tickets)
    if session.get_bind().dialect.name == "postgresql":
        _load_postgresql(session, gen, tickets, batch, echo)
    else:
        _load_other(session, gen, tickets, batch, echo)
    return first


def register(app: Flask) -> None:
    @app.cli.command("gen-data")
    @click.option("--tickets", type=click.IntRange(1), default=10_000, show_default=True)
    @click.option("--seed", type=int, default=1, show_default=True)
    @click.option("--batch", type=click.IntRange(100), default=20_000, show_default=True)
    @click.option("--extra-areas", type=click.IntRange(0, 999), default=90, show_default=True,
                  help="Wards/communes added under the province.")  # fmt: skip
    def gen_data(tickets: int, seed: int, batch: int, extra_areas: int) -> None:
        """Generate realistic tickets with their events (run `flask demo-data` first)."""
        from .extensions import db

        started = time.monotonic()
        prefix = app.config.get("TICKET_CODE_PREFIX", "PA")
        generate(db.session, tickets, seed=seed, batch=batch, extra_areas=extra_areas,
                 prefix=prefix, echo=click.echo)  # fmt: skip
        click.echo("Rebuilding the dashboard rollup…")
        rollup.rebuild(db.session, echo=click.echo)
        click.echo(f"Generated {tickets:,} tickets in {time.monotonic() - started:.0f} s.")
