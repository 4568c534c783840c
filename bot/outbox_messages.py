"""What the outbox carries, typed: one frozen dataclass per outbox kind, each with its `KIND`,
its fields, and the JSON it is stored as (`to_payload`, `from_payload`; `decode` by kind).

The JSON is the one earlier versions wrote, key for key and in the same order, so rows queued
before an upgrade are still sent after it, and a row written now reads the same to anything
that looks inside it (`homeroom family delete` finds sign-up alerts by `$.family_id`).
`tests/test_outbox_messages.py` holds each kind as it is stored.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, ClassVar, Union

from bot.core.messages import (REPLY_KIND, Attachment, Choice, Media, Outgoing, attachment_from, attachment_payload,
                               choices_from)


def _optional(default: Any = None) -> Any:
    """A field that is left out of the payload while it has its default, as older rows did."""
    return field(default=default, metadata={"omit": True})


def _stored_as(key: str) -> Any:
    """A field stored under another name (the payload's names are not all Python names)."""
    return field(metadata={"key": key})


class _Flat:
    """The payload is the fields, in their order, under their names (tuples as lists). A
    field with a default may be missing from a stored row; one without may not."""

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("omit") and value == f.default:
                continue
            payload[f.metadata.get("key", f.name)] = list(value) if isinstance(value, tuple) else value
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Any:
        values = {}
        for f in fields(cls):
            key = f.metadata.get("key", f.name)
            if key in payload:
                value = payload[key]
                values[f.name] = tuple(value) if isinstance(value, list) else value
            elif f.default is MISSING:
                raise KeyError(key)
        return cls(**values)


# -- to a family -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    """A turn's reply, as the engine made it: leased to the channel that sends it at once and
    taken over by the worker if that channel died (`Engine.handle(lease=…)`). Stored as
    `Outgoing.to_payload`; the chat is the row's, so a decoded one has an empty channel and chat."""

    KIND: ClassVar[str] = REPLY_KIND
    reply: Outgoing

    def to_payload(self) -> dict[str, Any]:
        return self.reply.to_payload()

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "Reply":
        return cls(Outgoing.from_payload("", "", payload))

    def outgoing(self, channel: str, chat_id: str) -> Outgoing:
        return replace(self.reply, channel=channel, chat_id=chat_id)


@dataclass(frozen=True)
class SignupText:
    """How a sign-up message was made (`bot.signups.booking.send`): its buttons, and its msgid
    and values, so a sender that has a translator can render it again; `rendered` says which
    text it got ("curated", "english", "localizer")."""

    event: str
    choices: tuple[Choice, ...]
    msgid: str
    values: dict[str, Any]
    rendered: str

    def to_payload(self) -> dict[str, Any]:
        return {"event": self.event, "choices": [c.as_dict() for c in self.choices], "msgid": self.msgid,
                "values": self.values, "rendered": self.rendered}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "SignupText":
        return cls(str(payload["event"]), choices_from(payload.get("choices")), str(payload.get("msgid") or ""),
                   dict(payload.get("values") or {}), str(payload.get("rendered") or ""))


@dataclass(frozen=True)
class FollowUp:
    """A row to queue later (`bot.delivery`): once its message is delivered (`then`), or once
    the far end refused it for good (`if_undeliverable`, whose text's `{reason}` says why)."""

    channel: str
    target: str
    message: "Message"
    ticket_id: int | None = None

    def to_payload(self) -> dict[str, Any]:
        return {"channel": self.channel, "target": self.target, "kind": self.message.KIND,
                "payload": self.message.to_payload(), "ticket_id": self.ticket_id}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "FollowUp":
        return cls(payload["channel"], payload["target"], decode(payload["kind"], payload.get("payload") or {}),
                   payload.get("ticket_id"))

    def because(self, reason: str) -> "FollowUp":
        """This report-back with its `{reason}` filled in (a staff line has words to fill)."""
        if not isinstance(self.message, TicketContext):
            return self
        return replace(self, message=replace(self.message, text=self.message.text.replace("{reason}", reason)))


@dataclass(frozen=True)
class FamilyMessage:
    """A message to a family outside a turn: a staff reply (`sender` "staff", with its
    follow-ups for the staff thread), a notice from the bot about its ticket, a sign-up message
    with buttons (`signup`). `machine` is stated by staff replies only."""

    KIND: ClassVar[str] = "message"
    text: str
    language: str
    sender: str = "bot"
    machine: bool | None = None
    signup: SignupText | None = None
    then: FollowUp | None = None
    if_undeliverable: FollowUp | None = None
    attachment: Attachment | None = None  # e.g. the calendar file of a seat the family moved up to

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": self.text, "language": self.language}
        if self.attachment is not None:
            payload["attachment"] = attachment_payload(self.attachment)
        if self.machine is not None:
            payload["machine"] = self.machine
        payload["from"] = self.sender
        if self.signup is not None:
            payload.update(self.signup.to_payload())
        for key, follow in (("then", self.then), ("if_undeliverable", self.if_undeliverable)):
            if follow is not None:
                payload[key] = follow.to_payload()
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "FamilyMessage":
        def follow(key: str) -> FollowUp | None:
            spec = payload.get(key)
            return FollowUp.from_payload(spec) if isinstance(spec, dict) else None
        machine = payload.get("machine")
        return cls(str(payload.get("text") or ""), str(payload.get("language") or "en"),
                   str(payload.get("from") or "bot"), None if machine is None else bool(machine),
                   SignupText.from_payload(payload) if "event" in payload else None,
                   follow("then"), follow("if_undeliverable"), attachment_from(payload.get("attachment")))

    def outgoing(self, channel: str, chat_id: str) -> Outgoing:
        choices = self.signup.choices if self.signup is not None else ()
        return Outgoing(channel, chat_id, self.text, choices, self.attachment, language=self.language,
                        machine_translated=bool(self.machine))


def to_family(message: "Message", channel: str, chat_id: str) -> Outgoing:
    """What a family's channel sends for a row: only replies and family messages go to families."""
    if not isinstance(message, (Reply, FamilyMessage)):
        raise TypeError(f"{message!r} is not a message for a family")
    return message.outgoing(channel, chat_id)


# -- to staff, about a ticket (bot.channels.slack.sender) --------------------------------------------

@dataclass(frozen=True)
class TicketNew(_Flat):
    """Post the ticket's message (its card is read from the store when it is sent)."""

    KIND: ClassVar[str] = "ticket_new"


@dataclass(frozen=True)
class TicketUpdate(_Flat):
    """Update the ticket's message: its status changed (by whom), or it became urgent."""

    KIND: ClassVar[str] = "ticket_update"
    status: str | None = _optional()
    by: str | None = _optional()
    priority: str | None = _optional()


@dataclass(frozen=True)
class TicketThread:
    """A parent's message in the ticket's thread, with its English. `urgent` is stated for the
    messages after the first (the first one's urgency is the ticket's); `media`: a photo, file…
    and the parents' channel to fetch it from."""

    KIND: ClassVar[str] = "ticket_thread"
    text: str
    language: str
    translation: str | None = None
    urgent: bool | None = None
    media: Media | None = None
    media_channel: str = ""

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": self.text, "language": self.language, "translation": self.translation}
        if self.urgent is not None:
            payload["urgent"] = self.urgent
        if self.media is not None:
            payload["media"] = {**self.media.as_dict(), "channel": self.media_channel}
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "TicketThread":
        raw = payload.get("media")
        media = Media.from_dict(raw) if isinstance(raw, dict) else None
        translation, urgent = payload.get("translation"), payload.get("urgent")
        return cls(str(payload.get("text") or ""), str(payload.get("language") or ""),
                   None if translation is None else str(translation), None if urgent is None else bool(urgent),
                   media, str(raw.get("channel") or "") if media is not None else "")


@dataclass(frozen=True)
class TicketContext(_Flat):
    """A line from Homeroom in the ticket's thread. One for a ticket that is deleted meanwhile
    (the family deleted its data) carries the thread's `staff_ref` itself."""

    KIND: ClassVar[str] = "ticket_context"
    text: str
    staff_ref: str | None = _optional()
    closed: bool = _optional(False)


@dataclass(frozen=True)
class TicketReminder(_Flat):
    """Nobody answered the ticket within `minutes`: a nudge in its thread."""

    KIND: ClassVar[str] = "ticket_reminder"
    minutes: int


# -- to staff, about sign-ups (bot.signups.staff) ----------------------------------------------------

@dataclass(frozen=True)
class SignupsAlert(_Flat):
    """A late change to a booking (its event starts within 24 hours). `family_id` lets
    `/forgetme` find the alerts that name the family."""

    KIND: ClassVar[str] = "signups_alert"
    text: str
    event: str
    booking_id: int
    family_id: int
    booking_kind: str = _stored_as("kind")  # volunteer, conference
    scope: str = _stored_as("id")           # the opportunity's or the teacher's id
    title: str
    name: str
    language: str
    interpreter: str | None
    starts_at: str


@dataclass(frozen=True)
class DigestCount(_Flat):
    """How many sign-ups, cancellations and promotions one digest section lists."""

    kind: str
    id: str
    new: int
    cancelled: int
    promoted: int


@dataclass(frozen=True)
class SignupsDigest(_Flat):
    """The daily sign-ups digest: its text, and the counts behind it."""

    KIND: ClassVar[str] = "signups_digest"
    text: str
    day: str
    since: str
    sections: tuple[DigestCount, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        return {**super().to_payload(), "sections": [s.to_payload() for s in self.sections]}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "SignupsDigest":
        digest = super().from_payload({k: v for k, v in payload.items() if k != "sections"})
        return replace(digest, sections=tuple(DigestCount.from_payload(s) for s in payload.get("sections") or ()))


# -- to staff, about absences (bot.absences.notice) --------------------------------------------------

@dataclass(frozen=True)
class AbsenceNotice(_Flat):
    """An absence a family reported in the chat, for the attendance channel in Slack. `family_id`
    lets `/forgetme` find the notices that name the family."""

    KIND: ClassVar[str] = "absence_notice"
    text: str
    absence_id: int
    family_id: int


# -- to staff, by email (bot.channels.email) -------------------------------------------------------

@dataclass(frozen=True)
class Email(_Flat):
    """A mail to staff. `tickets` get an "emailed" event once the server took it; `what`
    names it in the timeline and the log (urgent, notice, digest)."""

    KIND: ClassVar[str] = "email"
    to: tuple[str, ...]
    subject: str
    body: str
    tickets: tuple[int, ...] = ()
    what: str = "email"
    urgent: bool = _optional(False)


Message = Union[Reply, FamilyMessage, TicketNew, TicketUpdate, TicketThread, TicketContext, TicketReminder,
                SignupsAlert, SignupsDigest, AbsenceNotice, Email]
KINDS: dict[str, type] = {cls.KIND: cls for cls in (Reply, FamilyMessage, TicketNew, TicketUpdate, TicketThread,
                                                    TicketContext, TicketReminder, SignupsAlert, SignupsDigest,
                                                    AbsenceNotice, Email)}


@dataclass(frozen=True)
class Unreadable:
    """A row this version cannot read: a kind it does not know (written by a newer version?)
    or a payload without what its kind needs. Its sender drops or refuses it, as it did the
    raw row before; the rows behind it go on."""

    kind: str
    error: str


def decode(kind: str, payload: dict[str, Any]) -> Message:
    """The message of an outbox row. Raises ValueError (an unknown kind), KeyError (a field
    its kind needs is missing) or TypeError (a field of the wrong shape)."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    return KINDS[kind].from_payload(payload)
