"""Conversation flows beyond one question and one answer (sign-ups). The engine hands a turn to
a flow by name; a flow talks through the Turn (say, effect) like every other handler."""

from __future__ import annotations

from typing import Protocol

from bot.core.dialog import Turn
from bot.core.payloads import Payload


class Flow(Protocol):
    """One multi-step conversation. `name` is what `turn.state.flow` holds while it runs."""

    name: str

    async def start(self, turn: Turn, arg: str | None = None) -> None:
        """Begin (from an intent, a command like /volunteer, or a deep link /start volunteer)."""

    async def on_text(self, turn: Turn, text: str) -> bool:
        """Typed text while this flow is active; False: not for the flow (the engine answers)."""

    async def on_payload(self, turn: Turn, payload: Payload) -> bool:
        """A button whose owner is this flow; False if it does not take it (the engine then
        says the option expired)."""
