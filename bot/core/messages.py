"""Channel-neutral messages: what every adapter turns platform events into, and back."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# The outbox kind of a turn's replies: written by the engine, leased to the channel that sends
# them at once (`Engine.handle(lease=…)`), taken over by the worker if that channel died.
REPLY_KIND = "reply"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: `label` is shown to the parent, `payload` comes back when it is picked."""

    label: str
    payload: str

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "payload": self.payload}


def choices_from(raw: object) -> tuple[Choice, ...]:
    """Choices stored as `Choice.as_dict`, skipping any an older version wrote otherwise."""
    return tuple(Choice(str(c["label"]), str(c["payload"])) for c in raw or ()  # type: ignore[attr-defined]
                 if isinstance(c, dict) and "label" in c and "payload" in c)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a reply, e.g. a calendar invitation (.ics)."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Media:
    """A file or item the parent sent (photo, voice note, document, location…). Files travel by
    the channel's own reference and are fetched only when staff need them (`bot.media`)."""

    kind: str                       # photo, voice, document, location…
    ref: str = ""                   # the channel's file id ("" when there is no file)
    filename: str | None = None
    mime_type: str | None = None
    size: int | None = None         # bytes, when the channel says
    description: str = ""           # for items without a file, e.g. "40.71, -74.00"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "filename": self.filename, "mime_type": self.mime_type,
                "size": self.size, "description": self.description}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Media":
        return cls(str(raw.get("kind") or "file"), str(raw.get("ref") or ""), raw.get("filename"),
                   raw.get("mime_type"), raw.get("size"), str(raw.get("description") or ""))

    def label(self) -> str:
        """How the message log and the ticket show it: "[photo]", "[location: …]"."""
        return f"[{self.kind}{': ' + self.description if self.description else ''}]"

    def with_caption(self, caption: str | None) -> str:
        """The label and the parent's words together: "[photo] the signed slip"."""
        return f"{self.label()} {caption or ''}".strip()


@dataclass(frozen=True, slots=True)
class Incoming:
    """One thing a parent did: typed `text`, or picked a choice (`payload`)."""

    channel: str
    user_id: str
    chat_id: str
    text: str = ""
    payload: str | None = None
    message_id: str | None = None
    display_name: str | None = None
    language_hint: str | None = None
    timestamp: datetime = field(default_factory=utcnow)
    media: Media | None = None      # a photo, file, location…; `text` is then its caption


def attachment_payload(attachment: Attachment) -> dict[str, str]:
    """An attachment as JSON for an outbox row."""
    return {"filename": attachment.filename, "mime_type": attachment.mime_type,
            "content_b64": base64.b64encode(attachment.content).decode("ascii")}


def attachment_from(raw: Any) -> Attachment | None:
    """The reverse of `attachment_payload` (None for a row without one)."""
    if not isinstance(raw, dict) or raw.get("content_b64") is None:
        return None
    return Attachment(str(raw.get("filename") or "file"), base64.b64decode(raw["content_b64"]),
                      str(raw.get("mime_type") or "application/octet-stream"))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One reply for a chat. `choices` become buttons (or numbered options in the terminal)."""

    channel: str
    chat_id: str
    text: str
    choices: tuple[Choice, ...] = ()
    attachment: Attachment | None = None
    language: str = "en"
    machine_translated: bool = False
    outbox_id: int | None = None  # set when the reply was also written to the outbox (see Engine.handle)

    def to_payload(self) -> dict[str, Any]:
        """JSON for an outbox row (what a worker needs to send it again after a crash)."""
        payload: dict[str, Any] = {"text": self.text, "language": self.language, "machine": self.machine_translated,
                                   "choices": [c.as_dict() for c in self.choices]}
        if self.attachment is not None:
            payload["attachment"] = attachment_payload(self.attachment)
        return payload

    @classmethod
    def from_payload(cls, channel: str, chat_id: str, payload: dict[str, Any]) -> "Outgoing":
        """The reverse of `to_payload`, tolerant of rows written by older versions."""
        choices = choices_from(payload.get("choices"))
        attachment = attachment_from(payload.get("attachment"))
        return cls(channel, chat_id, str(payload.get("text") or ""), choices, attachment,
                   language=str(payload.get("language") or "en"), machine_translated=bool(payload.get("machine")))
