"""Channel-neutral messages: what every adapter turns platform events into, and back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: `label` is shown to the parent, `payload` comes back when it is picked."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a reply, e.g. a calendar invitation (.ics)."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


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
