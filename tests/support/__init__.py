"""What the tests share: one way to write a parent's message (`msg`), one parent who talks to
the engine and taps the buttons it was offered (`Parent`), and one clock a test moves by hand
(`Clock`, given to the engine or the app instead of the wall clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

from bot.core.messages import Incoming, Outgoing
from bot.storage import families

_ids = count(1)


def msg(text: str = "", payload: str | None = None, user: str = "p1", hint: str | None = None, *,
        name: str | None = None, channel: str = "test") -> Incoming:
    """A parent's message (or button tap, with `payload`) as every channel hands it to the engine."""
    return Incoming(channel, user, user, text, payload=payload, display_name=name, language_hint=hint,
                    message_id=f"{user}-{next(_ids)}")


class Parent:
    """One family talking to the engine: say text, tap a button offered in the last reply."""

    def __init__(self, app, user: str, name: str | None = "Maria Lopez", hint: str | None = None) -> None:
        self.app, self.user, self.name, self.hint = app, user, name, hint
        self.replies: list[Outgoing] = []

    def incoming(self, text: str = "", payload: str | None = None) -> Incoming:
        """What this parent sends, not sent yet (e.g. to deliver one update twice)."""
        return msg(text, payload, self.user, self.hint, name=self.name)

    async def say(self, text: str = "", payload: str | None = None) -> list[Outgoing]:
        self.replies = await self.app.engine.handle(self.incoming(text, payload))
        return self.replies

    async def tap(self, payload: str) -> list[Outgoing]:
        return await self.say(payload=payload)

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)

    def payloads(self) -> list[str]:
        return [c.payload for c in self.replies[-1].choices] if self.replies else []

    def button(self, start: str, containing: str = "") -> str:
        """The payload of the first button offered (in any reply) that starts so and whose label contains that."""
        for choice in (c for r in self.replies for c in r.choices):
            if choice.payload.startswith(start) and containing in choice.label:
                return choice.payload
        raise AssertionError(f"no button {start!r} {containing!r} in {[r.choices for r in self.replies]}")

    async def family(self) -> families.Family | None:
        return await self.app.db.run(families.find, "test", self.user)


class Clock:
    """The time a test says it is: `clock()` reads it, `clock.advance(hours=1)` moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
