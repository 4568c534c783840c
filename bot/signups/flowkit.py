"""What the sign-up flows share: navigation buttons, pages of choices, leaving a flow, the
words that mean "cancel" or "back" when typed, and the confirm token.

Payloads are `<flow>:<action>[:<value>]`, well under Telegram's 64 bytes of callback data.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Sequence, TypeVar

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
