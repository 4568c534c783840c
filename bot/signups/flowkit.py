"""What the sign-up flows share: navigation buttons, pages of choices, leaving a flow, the
words that mean "cancel" or "back" when typed, the confirm token, and step tables (`Steps`):
each flow lists its steps once, with how each is asked and where Back goes from it.

Payloads are `<flow>:<action>[:<value>]`, well under Telegram's 64 bytes of callback data.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Sequence, TypeVar

from bot.core import payloads
from bot.core.payloads import Payload
from bot.core.dialog import Turn
from bot.i18n import N_
from bot.signups import store
from bot.understanding.normalize import normalize

T = TypeVar("T")

BACK = N_("⬅ Back")
CANCEL = N_("✖ Cancel")
MORE = N_("More ▶")
EARLIER = N_("◀ Earlier")
MENU = N_("Main menu")
MY_SIGNUPS = N_("My sign-ups")
USE_BUTTONS = N_("Please pick one of the options below, or type “cancel” to stop.")
EXPIRED = N_("That button is from an earlier message. Here are the current choices:")
# said the same way by every sign-up flow
CONFIRM = N_("✅ Confirm")
STOPPED = N_("OK, I've stopped. Nothing was booked.")
UNCHANGED = N_("OK, nothing was changed.")

CANCEL_WORDS = {"cancel", "stop", "quit", "exit", "abort", "cancelar", "parar", "salir", "annuler", "huy",
                "hủy", "取消", "إلغاء", "anile", "jooji", "отмена", "отменить"}
BACK_WORDS = {"back", "go back", "previous", "atras", "atrás", "volver", "regresar", "voltar", "quay lai",
              "返回", "رجوع", "retounen", "dib", "назад"}


def word(text: str) -> str | None:
    """'cancel' or 'back' when the typed text means it, else None."""
    norm = normalize(text)
    if norm in {normalize(w) for w in CANCEL_WORDS}:
        return "cancel"
    if norm in {normalize(w) for w in BACK_WORDS}:
        return "back"
    return None


async def new_question(turn: Turn, text: str) -> bool:
    """Typed text mid-flow that the turn's matcher confidently reads as a question or request of
    its own ("when does school start?"): the flow steps aside and the engine answers it. Anything
    else (a typo, "what?") gets the current choices again."""
    result = await turn.understanding.matcher.aclassify(text, turn.lang)
    return result.decision == "answer" and result.intent is not None


def nav(flow: str, back: bool = True) -> list[tuple[str, Payload]]:
    out = [(BACK, Payload(flow, "back"))] if back else []
    out.append((CANCEL, Payload(flow, "quit")))
    return out


def page(items: Sequence[T], number: int, size: int) -> tuple[list[T], int, bool, bool]:
    """The items of page `number` (clamped), the page used, and whether there are earlier/later pages."""
    pages = max(1, -(-len(items) // size))
    number = max(0, min(number, pages - 1))
    return list(items[number * size:(number + 1) * size]), number, number > 0, number < pages - 1


def paging(flow: str, action: str, number: int, earlier: bool, later: bool) -> list[tuple[str, Payload]]:
    out = []
    if earlier:
        out.append((EARLIER, Payload(flow, action, number - 1)))
    if later:
        out.append((MORE, Payload(flow, action, number + 1)))
    return out


def after_choices() -> list[tuple[str, Payload]]:
    return [(MY_SIGNUPS, Payload("mysignups", "list")), (MENU, payloads.MENU)]


def leave(turn: Turn, key: str) -> None:
    """End the flow: nothing of it stays in the state (a flow abandoned midway holds no seat)."""
    turn.state.flow = None
    turn.state.step = None
    turn.state.drop(key)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a flow. `ask(flow, turn, picks)` asks it (again); `back` is where Back goes:
    a step's name, a rule over the flow's picks that names one, or None to leave the flow."""

    ask: Callable[[Any, Turn, dict], Awaitable[None] | None]
    back: str | Callable[[dict], str | None] | None = None


class Steps:
    """A flow's step table: `turn.state.step` names a row; an unknown or missing step is `first`."""

    def __init__(self, first: str, table: dict[str, Step]) -> None:
        unknown = {s.back for s in table.values() if isinstance(s.back, str)} - table.keys()
        if first not in table or unknown:
            raise ValueError(f"step table: no step {sorted(unknown) or first!r}")
        self.first, self.table = first, table

    def __contains__(self, step: str) -> bool:
        return step in self.table

    async def show(self, flow: Any, turn: Turn, step: str | None = None) -> None:
        """Ask `step` (by default the current one) again: after a notice, a typo, or Back."""
        row = self.table.get(step or turn.state.step or "") or self.table[self.first]
        result = row.ask(flow, turn, turn.state.space(flow.name))
        if inspect.isawaitable(result):
            await result

    def before(self, turn: Turn, owner: str) -> str | None:
        """The step Back leads to from the current one (None: Back leaves the flow)."""
        row = self.table.get(turn.state.step or "") or self.table[self.first]
        return row.back(turn.state.space(owner)) if callable(row.back) else row.back

    async def back(self, flow: Any, turn: Turn) -> bool:
        """Go one step back; False when there is none before (the flow should leave)."""
        step = self.before(turn, flow.name)
        if step is None:
            return False
        await self.show(flow, turn, step)
        return True


def token() -> str:
    return secrets.token_hex(4)


def now_iso(turn: Turn) -> str:
    return store.iso(turn.now)


def as_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def name_for(turn: Turn) -> str:
    """The name the channel gave us (prefill for the list), at most 100 characters."""
    name = (turn.family.display_name or turn.incoming.display_name or "").strip()
    return " ".join(name.split())[:100]


def letters() -> Iterator[str]:
    """A, B, … Z, AA, AB, …: marks for a list's items, so that the only numbers shown are options
    (the terminal numbers buttons, and a typed "1" must pick the first button, not the first item)."""
    n = 0
    while True:
        n += 1
        mark, rest = "", n
        while rest:
            rest, digit = divmod(rest - 1, 26)
            mark = chr(ord("A") + digit) + mark
        yield mark
