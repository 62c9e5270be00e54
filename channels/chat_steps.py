"""The guided filing of channels.conversation: kind → category → description → full name (when
the law requires it) → location → photos → confirm → intake. A mixin of the conversation's flow,
which provides `session`, `inp`, `settings`, `conv`, `draft`, `say`, `note` and `_reset`."""

from __future__ import annotations

import secrets
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.attachments import IncomingFile, check_file, store, stored_path
from service.domain.intake import InboundTicket, Settings, receive
from service.domain.text import clean_text
from service.domain.validation import IDENTITY_REQUIRED_KINDS, KINDS, IntakeError
from service.links import tracking_link
from service.models import Category, Conversation
from service.web.messages import describe

from . import chat_tickets as tickets

TITLE_CHARS = 80
STEPS = ("kind", "category", "describe", "name", "location", "photos", "confirm")
DONE_WORDS = {"xong", "done", "/done", "hoàn tất", "het", "hết", "finish"}
SKIP_WORDS = {"bỏ qua", "bo qua", "skip", "/skip", "không", "khong", "no"}
SEND_WORDS = {"gửi", "gui", "ok", "đồng ý", "send", "yes", "có", "co"}
# A field in intake errors → the step that asks for it again.
FIELD_STEP = {"kind": "kind", "category": "category", "title": "describe",
              "description": "describe", "name": "name", "contact": "name",
              "address": "location", "lat": "location", "lng": "location",
              "attachments": "photos"}  # fmt: skip


def normal(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


class FilingSteps:
    """The steps of a new filing; `_go(step)` asks the first unanswered question from there."""

    session: Session
    inp: Any
    settings: Settings
    conv: Conversation
    lang: str
    draft: dict[str, Any]
    data: dict[str, Any]

    def say(self, text: str, buttons: list[list[tuple[str, str]]] | None = None) -> None:
        raise NotImplementedError

    def note(self, text: str) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        raise NotImplementedError

    def _begin(self, description: str = "") -> None:
        self.draft = {"nonce": secrets.token_hex(8), "photos": []}
        if description:
            self.draft["description"] = description[:10000]
            self.note(_("Let's file a new submission; your message will be its description."))
        self._absorb_media()
        self._go("kind")

    def _absorb_media(self) -> None:
        """A location or photos sent in any step are kept for the filing."""
        if self.inp.location and "lat" not in self.draft:
            self.draft["lat"], self.draft["lng"] = self.inp.location
        for photo in self.inp.photos:
            self._keep_photo(photo)

    def _keep_photo(self, photo: IncomingFile) -> None:
        photos = self.draft.setdefault("photos", [])
        if len(photos) >= self.settings.max_attachments:
            self.note(_("That is the most photos one submission can take."))
            return
        checked, error = check_file(photo, self.settings.max_attachment_bytes)
        if checked is None:
            self.note(describe({"attachments": error or "invalid"})["attachments"])
            return
        store(self.settings.upload_folder, checked)
        photos.append({"sha256": checked.sha256, "filename": checked.filename})

    def _go(self, step: str) -> None:
        """Move to `step`, skipping the ones already answered, and ask its question."""
        for name in STEPS[STEPS.index(step) :]:
            if not self._answered(name):
                self.conv.state = name
                self._ask(name)
                return

    def _answered(self, step: str) -> bool:
        d = self.draft
        return {
            "kind": "kind" in d,
            "category": "category_id" in d,
            "describe": bool(d.get("description")),
            "name": bool(d.get("name")) or not self._identity_needed(),
            "location": "lat" in d or "address" in d or d.get("no_location", False),
            "photos": d.get("photos_done", False),
            "confirm": False,
        }[step]

    def _identity_needed(self) -> bool:
        if self.draft.get("kind") in IDENTITY_REQUIRED_KINDS:
            return True
        category = self._category()
        return bool(category and category.requires_identity)

    def _category(self) -> Category | None:
        cid = self.draft.get("category_id")
        return self.session.get(Category, cid) if cid else None

    def _ask(self, step: str) -> None:
        if step == "kind":
            labels = tickets.kind_label
            self.say(_("What would you like to send?"),
                     [[(labels(k), f"k:{k}")] for k in KINDS])  # fmt: skip
        elif step == "category":
            rows = self.session.scalars(
                select(Category).where(Category.active.is_(True)).order_by(Category.id)
            ).all()
            names = [(c.name_en if self.lang == "en" else c.name_vi, f"c:{c.id}") for c in rows]
            self.say(_("Which area is it about?"),
                     [names[i:i + 2] for i in range(0, len(names), 2)])  # fmt: skip
        elif step == "describe":
            self.say(_("Please describe the problem: what, where, since when. "
                       "The first line becomes the title."))  # fmt: skip
        elif step == "name":
            suggestion = clean_text(self.inp.display_name or "", multiline=False)
            buttons = [[(suggestion, "n:me")]] if 2 <= len(suggestion) <= 255 else None
            self.say(_("The law requires your full name for this kind of submission. "
                       "Please send your full name."), buttons)  # fmt: skip
        elif step == "location":
            self.say(_("Where is it? Share a location (📎 → Location) or type the address."),
                     [[(_("Skip"), "skip")]])  # fmt: skip
        elif step == "photos":
            self.say(_("You may send photos now (up to %(n)d). Send \"xong\" or press Done when "
                       "finished.", n=self.settings.max_attachments),
                     [[(_("Done"), "done")]])  # fmt: skip
        elif step == "confirm":
            self.say(self._summary(), [[(_("Send"), "send"), (_("Cancel"), "cancel")]])

    def _summary(self) -> str:
        d, category = self.draft, self._category()
        lines = [_("Please check your submission:"),
                 _("Type: %(kind)s", kind=tickets.kind_label(d.get("kind", ""))),
                 _("Category: %(name)s", name=(category.name_en if self.lang == "en"
                                               else category.name_vi) if category else "")]  # fmt: skip
        description = d.get("description", "")
        lines.append(description if len(description) <= 500 else description[:499] + "…")
        if d.get("name"):
            lines.append(_("Full name: %(name)s", name=d["name"]))
        if "lat" in d:
            lines.append(_("Location: %(lat).6f, %(lng).6f", lat=d["lat"], lng=d["lng"]))
        if d.get("address"):
            lines.append(_("Address: %(address)s", address=d["address"]))
        lines.append(_("Photos: %(n)d", n=len(d.get("photos", []))))
        if d.get("kind") in ("complaint", "denunciation"):
            lines.append(_("Sent electronically, it is recorded as information with complaint or "
                           "denunciation content until you file a signed petition."))  # fmt: skip
        return "\n".join(lines)

    def _reask(self) -> None:
        text = clean_text(self.inp.text or "")
        if len(text) >= 10 and not self.draft.get("description") and not self.inp.callback:
            # Users often write the problem straight away: keep it as the description.
            self.draft["description"] = text[:10000]
            self.note(_("Noted your description."))
        else:
            self.note(_("Please choose one of the options."))
        self._ask(self.conv.state)

    def _step_kind(self, choice: str | None) -> None:
        kind = (choice or "")[2:] if (choice or "").startswith("k:") else None
        if kind not in KINDS:
            return self._reask()
        self.draft["kind"] = kind
        self._go("category")

    def _step_category(self, choice: str | None) -> None:
        cid = (choice or "")[2:] if (choice or "").startswith("c:") else ""
        category = self.session.get(Category, int(cid)) if cid.isdigit() else None
        if category is None or not category.active:
            return self._reask()
        self.draft["category_id"] = category.id
        self._go("describe")

    def _step_describe(self, choice: str | None) -> None:
        text = clean_text(self.inp.text or "")
        if len(text) < 10:
            if text or not (self.inp.photos or self.inp.location):
                self.note(_("Please write at least a sentence (10 characters or more)."))
            self._ask("describe")
            return
        self.draft["description"] = text[:10000]
        self._go("name")

    def _step_name(self, choice: str | None) -> None:
        name = self.inp.display_name if choice == "n:me" else self.inp.text
        name = clean_text(name or "", multiline=False)
        if not 2 <= len(name) <= 255:
            self.note(describe({"name": "too_short" if len(name) < 2 else "too_long"})["name"])
            return self._ask("name")
        self.draft["name"] = name
        self._go("location")

    def _step_location(self, choice: str | None) -> None:
        text = clean_text(self.inp.text or "", multiline=False)
        if choice == "skip" or normal(text) in SKIP_WORDS:
            self.draft["no_location"] = True
        elif text and not self.inp.callback:
            self.draft["address"] = text[:500]
        elif not ("lat" in self.draft or self.inp.photos):
            return self._reask()
        self._go("photos")

    def _step_photos(self, choice: str | None) -> None:
        full = len(self.draft.get("photos", [])) >= self.settings.max_attachments
        if choice == "done" or normal(self.inp.text) in DONE_WORDS or full:
            self.draft["photos_done"] = True
            return self._go("confirm")
        if self.inp.photos:
            self.say(_("%(n)d photo(s) kept. Send more, or \"xong\" when finished.",
                       n=len(self.draft.get("photos", []))), [[(_("Done"), "done")]])  # fmt: skip
            return None
        self._ask("photos")

    def _step_confirm(self, choice: str | None) -> None:
        if choice == "cancel":
            self._reset()
            return self.say(_("Cancelled. Nothing was sent."))
        if not (choice == "send" or normal(self.inp.text) in SEND_WORDS):
            return self._reask()
        self._file()

    def _file(self) -> None:
        """Hand the draft to the intake funnel; errors send the user back to the step at fault."""
        d, category = self.draft, self._category()
        description = d.get("description", "")
        first = description.splitlines()[0].strip() if description else ""
        title = (
            first if 5 <= len(first) <= TITLE_CHARS else " ".join(description.split())[:TITLE_CHARS]
        )
        display = clean_text(self.inp.display_name or "", multiline=False)
        name = d.get("name") or (display if 2 <= len(display) <= 255 else None)
        files = []
        for photo in d.get("photos", []):
            with open(stored_path(self.settings.upload_folder, photo["sha256"]), "rb") as fh:
                files.append(IncomingFile(photo["filename"], fh.read()))
        inbound = InboundTicket(
            channel=self.inp.channel, kind=d.get("kind", ""), title=title, description=description,
            category_code=category.code if category else None, address=d.get("address"),
            latitude=d.get("lat"), longitude=d.get("lng"), citizen_name=name, language=self.lang,
            external_id=f"chat:{self.conv.id}:{d.get('nonce', '')}",
            chat_contact=(self.inp.channel, self.inp.chat_id), attachments=files,
        )  # fmt: skip
        conv_id = self.conv.id
        try:
            received = receive(self.session, inbound, self.settings)
        except IntakeError as exc:
            messages = describe(exc.fields)
            self.note("\n".join(messages.values()))
            steps = [FIELD_STEP.get(f, "describe") for f in exc.fields]
            first_bad = min(steps, key=STEPS.index)
            self._forget(first_bad)
            return self._go(first_bad)
        # intake committed: lock our row again before finishing the conversation
        self.conv = self.session.scalars(
            select(Conversation).where(Conversation.id == conv_id).with_for_update()
        ).one()
        self._reset()
        self.data["last_ticket"] = received.code
        self.say(_("Thank you. Your submission was received with code %(code)s.\n"
                   "Follow it here: %(url)s\nSend /status %(code)s at any time to see its "
                   "progress; messages you send here are added to it while it is open.",
                   code=received.code, url=tracking_link(received.tracking_token)))  # fmt: skip

    def _forget(self, step: str) -> None:
        keys = {"kind": ("kind",), "category": ("category_id",), "describe": ("description",),
                "name": ("name",), "location": ("lat", "lng", "address", "no_location"),
                "photos": ("photos", "photos_done")}[step]  # fmt: skip
        for key in keys:
            self.draft.pop(key, None)
        if step == "photos":
            self.draft["photos"] = []
