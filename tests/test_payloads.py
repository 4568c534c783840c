"""Button payloads (bot.core.payloads): made checked, packed short, and anything else unpacked
as "not ours" — which the engine answers as an expired option."""

from __future__ import annotations

import pytest

from bot.core import payloads
from bot.core.messages import Incoming
from bot.core.payloads import MAX_BYTES, Payload


@pytest.mark.parametrize("payload, packed", [
    (Payload("volunteer", "shift", 12), "volunteer:shift:12"),
    (Payload("conference", "d", "2026-12-10"), "conference:d:2026-12-10"),
    (payloads.topic("bus_info"), "intent:bus_info"),
    (payloads.language("zh"), "lang:zh"),
    (payloads.MENU, "menu"),
])
def test_packs_to_the_strings_channels_carry_and_back(payload: Payload, packed: str) -> None:
    assert payload.pack() == packed
    assert Payload.unpack(packed) == payload


@pytest.mark.parametrize("owner, action, value", [
    ("Volunteer", "shift", "1"),       # owners are lower-case names
    ("volunteer", "shift", "a b"),     # no spaces
    ("volunteer", "", "12"),           # a value needs an action
    ("volunteer", "confirm", "x" * MAX_BYTES),  # too long for Telegram's callback_data
])
def test_a_malformed_button_fails_when_it_is_made(owner: str, action: str, value: str) -> None:
    with pytest.raises(ValueError):
        Payload(owner, action, value)


@pytest.mark.parametrize("raw", ["", None, "hello there", "x" * 80, "INTENT:bus", "a:b:c d"])
def test_what_is_not_ours_unpacks_to_none(raw) -> None:
    assert Payload.unpack(raw) is None


def test_number_reads_ids_and_pages() -> None:
    assert Payload("volunteer", "page", 2).number == 2
    assert Payload("volunteer", "opp", "fair").number is None


async def test_a_forged_or_old_format_tap_gets_the_expired_answer_and_the_menu(engine) -> None:
    for raw in ("volunteer:shift:notanumber", "intent:no_such_topic", "lang:xx", "menu:extra", "zz:top", "a b"):
        [reply] = await engine.handle(Incoming("test", "p1", "p1", "", payload=raw))
        assert "that option has expired" in reply.text, raw
        assert "intent:" in " ".join(c.payload for c in reply.choices)


async def test_every_button_written_in_the_code_names_an_owner_the_bot_has(app):
    """A button made as Payload("<owner>", …) with a literal owner anywhere in bot/ must name a flow
    the assembly registers or one of the engine's own kinds: a typo would not fail, it would only
    tell the family "that option has expired"."""
    import ast
    from pathlib import Path

    known = set(app.engine.flows) | set(app.engine.BUTTONS)
    named: dict[str, list[str]] = {}
    for path in sorted((Path(__file__).resolve().parents[1] / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Payload" and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                named.setdefault(node.args[0].value, []).append(f"{path.name}:{node.lineno}")
    assert {"volunteer", "mysignups", "forgetme", "myabsences"} <= named.keys()  # the scan sees them
    assert {owner: where for owner, where in named.items() if owner not in known} == {}
