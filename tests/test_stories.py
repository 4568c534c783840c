"""Conversations as data: tests/stories/*.yaml, each played against the sample school through the
real engine (and the semantic matcher, from the shared cache). The file's header says how a
story reads; this runner only plays the turns and checks what each one promises."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from bot.core.messages import Incoming, Outgoing
from bot.storage import tickets
from bot.understanding.semantic import SemanticMatcher

STORIES = sorted((Path(__file__).parent / "stories").glob("*.yaml"))
CASES = [(path, story) for path in STORIES for story in yaml.safe_load(path.read_text(encoding="utf-8"))]


def _said(replies: list[Outgoing]) -> str:
    return "\n".join(r.text for r in replies)


def _buttons(replies: list[Outgoing]) -> list[str]:
    return [c.payload for r in replies for c in r.choices]


def _handled(caplog) -> dict[str, str]:
    """intent=, decision=… of the engine's last `message.handled` log line (what operators read)."""
    line = [r.getMessage() for r in caplog.records if r.getMessage().startswith("message.handled")][-1]
    return dict(field.split("=", 1) for field in line.split()[1:])


def check(turn: dict, replies: list[Outgoing], handled: dict[str, str]) -> None:
    said, buttons = _said(replies), _buttons(replies)
    where = f"{turn.get('parent') or turn.get('tap')!r} got {said!r} {buttons} ({handled})"
    if "answer" in turn:
        assert handled["intent"] == turn["answer"] and handled["decision"] in ("answer", "handoff"), where
    if "clarify" in turn or "first" in turn:
        offered = [b.removeprefix("intent:") for b in buttons if b.startswith("intent:")]
        assert handled["decision"] == "clarify" and offered, where
        assert set(turn.get("clarify") or []) <= set(offered), where
        if "first" in turn:
            assert offered[0] == turn["first"], where
    if turn.get("out_of_scope"):
        assert handled["decision"] == "out_of_scope" and handled["intent"] == "None", where
    if turn.get("not_understood"):
        assert handled["decision"] == "unknown" and "human" in buttons, where
    if turn.get("person_first"):
        assert buttons and buttons[0] == "human", where
    if "says" in turn:
        assert turn["says"] in said, where


@pytest.mark.parametrize("path,story", CASES, ids=[f"{p.stem}: {s['story']}" for p, s in CASES])
async def test_story(app, caplog, path, story):
    assert isinstance(app.understanding.current.matcher, SemanticMatcher), app.understanding.current.status
    caplog.set_level(logging.INFO, logger="bot.engine")
    for n, turn in enumerate(story["turns"]):
        incoming = Incoming("test", "parent", "parent", turn.get("parent", ""), payload=turn.get("tap"),
                            language_hint=turn.get("lang"))
        replies = await app.engine.handle(incoming)
        assert replies, f"turn {n + 1}: no reply"
        check(turn, replies, _handled(caplog))
        if "ticket" in turn:
            open_tickets = await app.db.run(tickets.list_open)
            assert [t.priority for t in open_tickets] == [turn["ticket"]], open_tickets
