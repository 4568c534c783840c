"""What a button means when it comes back: `Payload(owner, action, value)`, packed into the
short string a channel carries ("volunteer:shift:12"; Telegram's callback_data holds 64 bytes).

`owner` says who handles it — one of the engine's own kinds (a topic, a language, the menu, a
person) or a flow's name — and the router sends it there. Making one checks its form, so a
too-long or malformed button fails in the tests, not at a parent's tap; `unpack` answers None
for anything that is not one of ours (a format we no longer use, a forged tap), which the
engine treats as an expired option.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64  # Telegram's limit for callback_data
_OWNER = re.compile(r"[a-z_]+")
_ACTION = re.compile(r"[A-Za-z0-9_\-]*")
_VALUE = re.compile(r"[^\s:]*")


@dataclass(frozen=True, slots=True)
class Payload:
    owner: str        # who handles it: "intent", "lang", "menu", … or a flow's name
    action: str = ""  # a flow's step ("shift"); for the engine's own kinds, what it points at (a topic)
    value: str = ""   # what the step acts on (an id, a date, a token)

    def __post_init__(self) -> None:
        if not isinstance(self.value, str):  # ids are given as ints
            object.__setattr__(self, "value", str(self.value))
        if not (_OWNER.fullmatch(self.owner) and _ACTION.fullmatch(self.action) and _VALUE.fullmatch(self.value)) \
                or (self.value and not self.action):
            raise ValueError(f"not a button payload: {self.owner!r}, {self.action!r}, {self.value!r}")
        if len(self.pack().encode("utf-8")) > MAX_BYTES:
            raise ValueError(f"button payload longer than {MAX_BYTES} bytes: {self.pack()!r}")

    def pack(self) -> str:
        return ":".join(part for part in (self.owner, self.action, self.value) if part)

    @classmethod
    def unpack(cls, raw: str | None) -> "Payload | None":
        if not raw:
            return None
        owner, _, rest = raw.partition(":")
        action, _, value = rest.partition(":")
        try:
            return cls(owner, action, value)
        except ValueError:
            return None

    @property
    def number(self) -> int | None:
        """The value as a whole number (an id, a page), or None."""
        try:
            return int(self.value)
        except ValueError:
            return None


# The engine's own buttons. They change nothing that could be out of date, so they stay valid
# on older messages while what they point at exists (see Engine._still_valid).
TOPIC, LANGUAGE, KEEP_LANGUAGE = "intent", "lang", "keeplang"  # owners whose action names a topic or language
MENU = Payload("menu")
PERSON = Payload("human")
ASK_LANGUAGE = Payload("language")
OTHER = Payload("other")


def topic(intent_id: str, about: str = "") -> Payload:
    """Answer this intent; `about` is what the question was about when an answer hook needs it
    (the calendar's days: "20261207"), so a "Did you mean" tap answers the question asked."""
    return Payload(TOPIC, intent_id, about)


def language(code: str) -> Payload:
    """Write in this language from now on."""
    return Payload(LANGUAGE, code)


def keep_language(declined: str) -> Payload:
    """Keep the current language; do not offer `declined` again."""
    return Payload(KEEP_LANGUAGE, declined)


def is_payload(text: str) -> bool:
    """Does this look like a packed payload (the message log keeps button presses that way)?"""
    return Payload.unpack(text) is not None
