"""Conversations as data: tests/stories/*.yaml, each played against the sample school through the
real engine (and the semantic matcher, from the shared cache) at a fixed time. How a story reads:
tests/stories/README.md; this runner only plays the turns and checks what each one promises."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from bot.core.messages import Choice, Incoming, Outgoing
from bot.signups import store
from bot.signups.text import when
from bot.storage import families, tickets
from bot.understanding.semantic import SemanticMatcher

STORIES = sorted((Path(__file__).parent / "stories").glob("*.yaml"))


def _stories(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as file:  # a YAML mistake then names the file and line
        return yaml.safe_load(file)


CASES = [(path, story) for path in STORIES for story in _stories(path)]
# Tuesday, Dec 1, 2026, 9:00 AM at the school: the office is open and every sign-up lies ahead
NOW = datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)
PARENT = "parent"  # the family a turn without `who:` comes from
STORY_KEYS = {"story", "name", "xfail", "turns", "absences"}
TURN_KEYS = {"parent", "tap", "lang", "who", "answer", "clarify", "first", "out_of_scope", "not_understood",
             "person_first", "says", "not_says", "buttons", "file", "ticket", "staff_see", "signed_up",
             "data_deleted"}


@dataclass
class Chat:
    """One family's side of the story: who they are and the buttons they can still press."""

    user: str
    name: str | None
    buttons: list[Choice] = field(default_factory=list)  # of the latest reply that had any

    def press(self, text: str) -> str:
        """The payload of the button whose label is `text`, or the one label that contains it."""
        labels = [c.label for c in self.buttons]
        exact = [c for c in self.buttons if c.label.lower() == text.lower()]
        hits = exact or [c for c in self.buttons if text.lower() in c.label.lower()]
        assert len(hits) == 1, f"tap {text!r}: {len(hits)} buttons match; the latest buttons are {labels}"
        return hits[0].payload


def _list(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _handled(caplog) -> dict[str, str]:
    """intent=, decision=… of the engine's last `message.handled` log line (what operators read)."""
    line = [r.getMessage() for r in caplog.records if r.getMessage().startswith("message.handled")][-1]
    return dict(field.split("=", 1) for field in line.split()[1:])


def check(turn: dict, replies: list[Outgoing], handled: dict[str, str]) -> None:
    """What the reply itself promises: the understanding keys, words, buttons and files."""
    said = "\n".join(r.text for r in replies)
    buttons = [c.payload for r in replies for c in r.choices]
    labels = [c.label for r in replies for c in r.choices]
    where = f"{turn.get('parent') or turn.get('tap')!r} got {said!r} {labels} ({handled})"
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
    for words in _list(turn.get("says")):
        assert words.lower() in said.lower(), f"missing {words!r}: {where}"
    for words in _list(turn.get("not_says")):
        assert words.lower() not in said.lower(), f"should not say {words!r}: {where}"
    for label in _list(turn.get("buttons")):
        assert any(label.lower() in shown.lower() for shown in labels), f"no button {label!r}: {where}"
    if "file" in turn:
        assert turn["file"] in [r.attachment.filename for r in replies if r.attachment], where


async def check_effects(app, chat: Chat, turn: dict) -> None:
    """What the turn changed, read back through the store's own functions."""
    family = await app.db.run(families.find, "test", chat.user)
    if "ticket" in turn:
        priorities = [t.priority for t in await app.db.run(tickets.list_open)]
        assert priorities == ([] if turn["ticket"] == "none" else [turn["ticket"]]), f"open tickets: {priorities}"
    if "staff_see" in turn:
        ticket = await app.db.run(tickets.open_for_family, family.id) if family else None
        assert ticket is not None, "no open ticket for this family"
        timeline = "\n".join(event[2] for event in await app.db.run(tickets.events, ticket.id))
        for words in _list(turn["staff_see"]):
            assert words.lower() in timeline.lower(), f"staff do not see {words!r} in {timeline!r}"
    if "signed_up" in turn:
        items = await app.db.run(store.family_items, family.id, store.iso(NOW)) if family else []
        lines = [f"{i.title}: {when(i.starts_at, i.ends_at, 'en')} ({i.booking.status})" for i in items]
        expected = _list(turn["signed_up"])
        assert len(lines) == len(expected) and all(words.lower() in line.lower() for words, line in
                                                   zip(expected, lines)), f"signed up: {lines}, expected {expected}"
    if "data_deleted" in turn:
        assert (family is None) == bool(turn["data_deleted"]), family


def _param(path: Path, story: dict):
    marks = [pytest.mark.xfail(strict=True, reason=story["xfail"])] if "xfail" in story else []
    return pytest.param(path, story, marks=marks, id=f"{path.stem}: {story['story']}")


@pytest.mark.parametrize("path,story", [_param(p, s) for p, s in CASES])
async def test_story(app, caplog, path, story):
    assert isinstance(app.understanding.current.matcher, SemanticMatcher), app.understanding.current.status
    app.engine.clock = lambda: NOW
    caplog.set_level(logging.INFO, logger="bot.engine")
    assert not set(story) - STORY_KEYS, f"unknown story keys {set(story) - STORY_KEYS} (see README.md)"
    if story.get("absences") is False:  # the profile's [absences] enabled = false: no absence flows
        from dataclasses import replace

        from bot.flows.absence import absence_flows
        profile = replace(app.profile, absences=replace(app.profile.absences, enabled=False))
        for name in ("absence", "myabsences"):
            app.engine.flows.pop(name, None)
        app.engine.flows.update(absence_flows(app.db, profile, None))
    chats: dict[str, Chat] = {}
    for n, turn in enumerate(story["turns"], 1):
        try:
            await play(app, caplog, story, chats, n, turn)
        except AssertionError as failed:  # say where in the story, in the story's own words
            raise AssertionError(f"{path.name}, {story['story']!r}, turn {n} {turn}:\n{failed}") from None


async def play(app, caplog, story: dict, chats: dict[str, Chat], n: int, turn: dict) -> None:
    """Send one turn from its family's chat, then check what it promises."""
    assert not set(turn) - TURN_KEYS, f"unknown keys {set(turn) - TURN_KEYS} (see README.md)"
    who = turn.get("who", PARENT)
    chat = chats.setdefault(who, Chat(who, story.get("name") if who == PARENT else who))
    payload = chat.press(turn["tap"]) if "tap" in turn else None
    incoming = Incoming("test", chat.user, chat.user, str(turn.get("parent", "")), payload=payload,
                        display_name=chat.name, language_hint=turn.get("lang"), message_id=f"{who}-{n}")
    replies = await app.engine.handle(incoming)
    assert replies, "no reply"
    chat.buttons = next((list(r.choices) for r in reversed(replies) if r.choices), chat.buttons)
    check(turn, replies, _handled(caplog))
    await check_effects(app, chat, turn)
