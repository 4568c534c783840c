"""Staff hand-off in Slack, offline: the real slack-bolt AsyncApp and slack_sdk AsyncWebClient
against the local mock Web API (tests/fakes/slack_api.py), signed requests, a real Homeroom on a
temporary data dir, the parent side through the engine and the outbox through Delivery."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import start
from bot.channels.slack import SlackStaff, blocks
from bot.channels.slack.sender import ChannelPacer
from bot.config import REPO_ROOT, ConfigError, Settings, load_school_profile
from bot.core.localize import Text
from bot.core.messages import Incoming
from bot.delivery import Undeliverable
from bot.handoff import AUTO_RESUMED_TEXT, CLOSED_UNANSWERED_TEXT, RESOLVED_TEXT
from bot.storage import outbox, tickets
from bot.translation import FakeTranslator
from fakes.slack_api import (BOT_TOKEN, RESPONSE_URL, SIGNING_SECRET, MockSlackAPI, block_action_body,
                             event_callback_body, signed_headers, slash_command_body)
from support import Clock

MONDAY_10AM = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)  # 10:00 in Los Angeles: office open
TRIAGE, URGENT, BUS = "CTRIAGE", "CURGENT", "CBUS"
STAFF, PRINCIPAL, OUTSIDER = "USTAFF1", "UPRINCIPAL", "UOUTSIDER"
SLACK_TABLE = f"""
[slack]
default_channel = "{TRIAGE}"
urgent_channel = "{URGENT}"
urgent_mention = "<!subteam^SADMINS>"
staff = ["{PRINCIPAL}"]
first_response_minutes = 30
auto_resume_hours = 48
[slack.channels]
transportation = "{BUS}"
"""
SPECIAL_ED = "my son needs a special education evaluation for an IEP, how do we start"


class World:
    """A Homeroom with Slack on the mock, a fake clock, and a recording parent channel."""

    def __init__(self, settings: Settings, mock: MockSlackAPI, clock: Clock) -> None:
        self.settings, self.mock, self.clock = settings, mock, clock
        self.parent: list[dict[str, Any]] = []
        self.blocked: set[str] = set()  # families whose app refuses everything (they blocked the bot)

    async def start(self) -> "World":
        self.home = await start(self.settings, translator=FakeTranslator(languages=["en", "vi"]))
        for part in (self.home.engine, self.home.handoff, self.home.delivery):
            part.clock = self.clock
        self.slack = SlackStaff(self.settings, self.home, pace=0, clock=self.clock)
        self.slack.sender.probe_delay = 0.05  # the outage breaker's health probe, quicker for tests

        async def parent_sender(item: outbox.Item) -> None:
            if item.target in self.blocked:
                raise Undeliverable("the family blocked the bot")
            self.parent.append({"target": item.target, **item.message.to_payload()})
        self.home.delivery.register("test", parent_sender)
        return self

    async def close(self) -> None:
        await self.slack.close()
        await self.home.close()

    async def say(self, user: str, text: str = "", payload: str | None = None, name: str | None = None):
        return await self.home.engine.handle(Incoming("test", user, user, text, payload=payload,
                                                      display_name=name or f"Family {user}"))

    async def vietnamese(self, user: str, name: str | None = None) -> None:
        await self.say(user, "/language", name=name)
        await self.say(user, payload="lang:vi", name=name)

    async def deliver(self, rounds: int = 10) -> int:
        total = 0
        for _ in range(rounds):
            sent = await self.home.delivery.run_once()
            total += sent
            if not sent:
                break
        return total

    async def ticket(self, number: int = 1) -> tickets.Ticket:
        found = await self.home.db.run(tickets.get, number)
        assert found is not None
        return found

    async def thread_of(self, number: int = 1) -> tuple[str, str]:
        ref = (await self.ticket(number)).staff_ref
        assert ref, "the ticket message was not posted"
        channel, _, ts = ref.partition(":")
        return channel, ts

    async def dispatch(self, body: str, headers: dict[str, str]):
        return await self.slack.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))

    async def reply(self, user: str, text: str, number: int = 1, event_id: str | None = None,
                    **extra: Any):
        channel, ts = await self.thread_of(number)
        event = {"type": "message", "channel": channel, "channel_type": "channel", "user": user, "text": text,
                 "ts": f"{time.time():.6f}", "thread_ts": ts, "event_ts": f"{time.time():.6f}", **extra}
        return await self.dispatch(*event_callback_body(event, event_id=event_id))

    async def click(self, action: str, user: str, number: int = 1):
        channel, ts = await self.thread_of(number)
        return await self.dispatch(*block_action_body(action, str(number), user, channel, ts,
                                                      response_url=self.mock.response_url))

    async def events(self, number: int = 1) -> list[tuple]:
        return await self.home.db.run(tickets.events, number)

    async def pending(self) -> int:
        return (await self.home.db.run(outbox.depth))[0]


async def until(check, timeout: float = 5.0, what: str = "condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def posts(mock: MockSlackAPI, ok_only: bool = True) -> list[dict[str, Any]]:
    return [c.params for c in mock.calls("chat.postMessage") if c.status == 200 or not ok_only]


def _blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
    raw = params.get("blocks") or []
    return json.loads(raw) if isinstance(raw, str) else raw


def blocks_text(params: dict[str, Any]) -> str:
    return json.dumps(_blocks(params), ensure_ascii=False)


@pytest.fixture
async def mock():
    async with MockSlackAPI() as api:
        api.set_members(TRIAGE, [STAFF])
        api.set_members(URGENT, [STAFF])
        api.set_members(BUS, [STAFF])
        yield api


@pytest.fixture
def slack_settings(tmp_path: Path, mock: MockSlackAPI) -> Settings:
    profile = tmp_path / "school.toml"
    profile.write_text((REPO_ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8") + SLACK_TABLE,
                       encoding="utf-8")
    return Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "HOMEROOM_SCHOOL_PROFILE": str(profile),
                              "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                              "SLACK_API_URL": mock.base_url})


@pytest.fixture
async def world(slack_settings: Settings, mock: MockSlackAPI):
    w = await World(slack_settings, mock, Clock(MONDAY_10AM)).start()
    yield w
    await w.close()


async def open_ticket(world: World, user: str = "p1", name: str | None = None) -> tickets.Ticket:
    """A Vietnamese-speaking family hands off (special education), and the ticket is posted."""
    await world.vietnamese(user, name=name)
    await world.say(user, SPECIAL_ED, name=name)
    await world.deliver()
    [ticket] = [t for t in await world.home.db.run(tickets.list_open) if t.staff_ref]
    return ticket


# ---------------------------------------------------------------------------------------- posting

async def test_handoff_posts_one_message_with_original_translation_and_buttons(world, mock):
    await world.say("p1", "what time does school start?", name="Nguyễn Thị Lan")
    world.clock.advance(minutes=1)
    ticket = await open_ticket(world, name="Nguyễn Thị Lan")
    [post] = posts(mock)
    assert post["channel"] == TRIAGE and "thread_ts" not in post
    assert world.mock.received_count("chat.postMessage") == 1
    text = blocks_text(post)
    assert SPECIAL_ED in text and f"[en] {SPECIAL_ED}" in text  # original and English translation
    assert "Nguyễn Thị Lan" in text and "Vietnamese (vi)" in text
    assert "Special education" in text  # what the bot understood
    assert "Earlier in the conversation" in text and "what time does school start?" in text and "8:10 AM" in text
    assert "`note:`" in text and "never sent" in text and "Edits" in text
    actions = [b for b in _blocks(post) if b["type"] == "actions"][0]["elements"]
    assert [(a["action_id"], a["value"]) for a in actions] == [
        ("homeroom_claim", str(ticket.id)), ("homeroom_resolve", str(ticket.id)), ("homeroom_reopen", str(ticket.id))]
    channel, ts = await world.thread_of(ticket.id)
    assert channel == TRIAGE and mock.message(channel, ts) is not None
    # later words from the family go into the thread, original + English
    await world.say("p1", "con tôi vẫn chưa được trả lời")
    await world.deliver()
    thread = posts(mock)[-1]
    assert thread["thread_ts"] == ts
    assert "con tôi vẫn chưa được trả lời" in blocks_text(thread) and "[en] con tôi" in blocks_text(thread)


async def test_topic_channel_and_urgent_channel_with_mention(world, mock):
    replies = await world.say("p2", "someone threatened to bring a gun to school")
    assert "911" in replies[0].text  # the safety guidance comes first, at once
    await world.deliver()
    [post] = posts(mock)
    assert post["channel"] == URGENT
    assert "<!subteam^SADMINS>" in post["text"] and "<!subteam^SADMINS>" in blocks_text(post)
    assert "URGENT" in blocks_text(post)
    assert (await world.ticket(1)).priority == "urgent"


async def test_ticket_turning_urgent_updates_it_and_alerts_the_urgent_channel(world, mock):
    await world.say("p4", "/human")
    await world.deliver()
    channel, ts = await world.thread_of()
    assert channel == TRIAGE
    replies = await world.say("p4", "a boy keeps punching my son at recess every day")
    assert any("911" in r.text for r in replies)
    await world.deliver()
    assert "URGENT" in blocks_text(mock.message(channel, ts))               # chat.update of the ticket
    pointer = [p for p in posts(mock) if p["channel"] == URGENT]
    assert len(pointer) == 1 and "<!subteam^SADMINS>" in pointer[0]["text"]
    thread = [p for p in posts(mock) if p.get("thread_ts") == ts]
    assert thread and "<!subteam^SADMINS>" in thread[-1]["text"] and "punching" in blocks_text(thread[-1])


async def test_http_mode_serves_signed_requests_only(slack_settings, mock, tmp_path):
    import socket

    import aiohttp

    from bot.channels.slack import EVENTS_PATH

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "http"),
                                  "HOMEROOM_SCHOOL_PROFILE": str(slack_settings.school_profile_path),
                                  "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": mock.base_url, "SLACK_LISTEN": f"127.0.0.1:{port}"})
    home = await start(settings)
    staff = SlackStaff(settings, home, pace=0)
    await staff.start()
    try:
        url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
        body, headers = event_callback_body({"type": "reaction_added", "user": STAFF, "reaction": "eyes"})
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body.encode(), headers=headers) as ok:
                assert ok.status == 200
            async with session.post(url, data=body.encode(), headers=signed_headers("forged", body)) as bad:
                assert bad.status == 401
    finally:
        await staff.stop()
        await home.close()


async def test_parent_markup_is_escaped_and_pings_no_one(world, mock):
    dad = "<!here> Dad"
    await world.say("p3", "/human", name=dad)
    await world.say("p3", "<!channel> call me <@U123> at <http://evil.example|school portal> & thanks", name=dad)
    await world.deliver()
    first, thread = posts(mock)
    for params in (first, thread):
        raw = params["text"] + blocks_text(params)
        assert "<!channel>" not in raw and "<!here>" not in raw and "<@U123>" not in raw
        assert "<http://evil" not in raw
    assert "&lt;!here&gt; Dad" in blocks_text(first)
    assert "&lt;!channel&gt; call me &lt;@U123&gt; at &lt;http://evil.example|school portal&gt; &amp; thanks" \
        in blocks_text(thread)


async def test_slack_429_then_500_then_200_delivers_once_in_order(world, mock):
    await open_ticket(world)
    await world.say("p1", "first question")
    await world.say("p1", "second question")
    mock.fail_next("chat.postMessage", status=429, retry_after=0)
    mock.fail_next("chat.postMessage", status=500)
    assert await world.home.delivery.run_once() == 0  # 429 retried by the client, then 500: later
    assert world.slack.sender.breaker_open()
    await until(lambda: not world.slack.sender.breaker_open(), what="the breaker's probe")
    for _ in range(6):
        world.clock.advance(minutes=1)
        await world.deliver()
    statuses = [c.status for c in mock.calls("chat.postMessage")]
    assert statuses == [200, 429, 500, 200, 200]
    thread = [p for p in posts(mock) if p.get("thread_ts")]
    assert [("first question" in p["text"], "second question" in p["text"]) for p in thread] == [
        (True, False), (False, True)]
    assert await world.pending() == 0


async def test_outage_holds_the_outbox_without_using_up_attempts(world, mock):
    await world.say("p5", "/human")
    await world.say("p6", "/human")
    mock.outage(True)
    assert await world.home.delivery.run_once() == 0
    assert mock.received_count("chat.postMessage") == 1          # one row tried; then the breaker held the rest
    for _ in range(3):
        world.clock.advance(minutes=10)
        assert await world.home.delivery.run_once() == 0
    assert mock.received_count("chat.postMessage") == 1          # no request while Slack is down...
    await until(lambda: world.slack.sender.probes >= 2, what="health probes")
    attempts = await world.home.db.run(lambda c: [r[0] for r in c.execute("SELECT attempts FROM outbox")])
    assert sorted(attempts) == [0, 1]                             # ...and no attempts used up
    mock.outage(False)
    await until(lambda: not world.slack.sender.breaker_open(), what="Slack back")
    world.clock.advance(seconds=5)
    await world.deliver()
    assert await world.pending() == 0
    assert sorted(p["channel"] for p in posts(mock)) == [TRIAGE, TRIAGE]


async def test_refused_token_is_a_configuration_error(slack_settings, mock):
    from dataclasses import replace

    home = await start(slack_settings)
    try:
        staff = SlackStaff(replace(slack_settings, slack_bot_token="xoxb-wrong"), home, pace=0)
        with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN was refused"):
            await staff.start()
        await staff.close()
    finally:
        await home.close()


# ---------------------------------------------------------------------------------------- staff

async def test_staff_reply_reaches_parent_translated_with_back_translation_in_thread(world, mock):
    ticket = await open_ticket(world)
    world.parent.clear()
    response = await world.reply(STAFF, "We will call you *today* about the <https://forms.example|IEP form>.")
    assert response.status == 200
    await until(lambda: world.home.db.run(lambda c: c.execute(
        "SELECT COUNT(*) FROM outbox WHERE channel = 'test' AND status = 'pending'").fetchone()[0]), what="relay")
    await world.deliver()
    [to_parent] = [m for m in world.parent if m.get("from") == "staff"]
    assert to_parent["text"].startswith("[vi] We will call you *today* about the IEP form (https://forms.example).")
    context = posts(mock)[-1]
    assert context["thread_ts"] == (await world.thread_of(ticket.id))[1]
    assert "Back-translation: [en] [vi] We will call you" in blocks_text(context)
    assert (await world.ticket(ticket.id)).status == "claimed"  # a reply claims an open ticket


async def test_the_card_and_the_reply_say_truly_what_a_family_without_a_model_gets(world, mock):
    """Spanish, no model installed: the card promises no translation, staff hear at once (an
    ephemeral) what the family gets, the thread says "Delivered" only once it was, in English."""
    from bot.handoff import ENGLISH_REPLY_NOTE

    await world.say("p2", "/language")
    await world.say("p2", payload="lang:es")
    await world.say("p2", "/human")
    await world.deliver()
    [ticket] = [t for t in await world.home.db.run(tickets.list_open) if t.staff_ref]
    card = blocks_text(posts(mock)[-1])
    assert "the family reads Spanish and no translation model for it is installed" in card
    assert "translated into Spanish" not in card
    world.parent.clear()
    await world.reply(STAFF, "We will call you at 3 pm.", number=ticket.id, event_id="EvES")
    [notice] = await mock.wait_for("chat.postEphemeral")
    assert notice.params["user"] == STAFF and "No translation model for Spanish is installed" in notice.params["text"]
    assert not [p for p in posts(mock) if "Delivered" in blocks_text(p)]  # not yet: it is only queued
    await world.deliver()
    [to_parent] = [m for m in world.parent if m.get("from") == "staff"]
    note = world.home.engine.localizer.locales.lookup("es", ENGLISH_REPLY_NOTE)
    assert to_parent["text"].startswith("We will call you at 3 pm.") and note.split("{")[0] in to_parent["text"]
    delivered = [p for p in posts(mock) if "Delivered" in blocks_text(p)]
    assert len(delivered) == 1 and "Delivered to the family in English (no translation model for Spanish" \
        in blocks_text(delivered[0])
    assert (await world.ticket(ticket.id)).interpreter == "Spanish"


async def test_a_reply_the_familys_app_refuses_is_reported_in_the_thread_never_delivered(world, mock):
    ticket = await open_ticket(world)
    world.blocked.add("p1")
    await world.reply(STAFF, "We will call you today.", number=ticket.id, event_id="EvBlocked")
    await until(lambda: world.home.db.run(lambda c: c.execute(
        "SELECT COUNT(*) FROM outbox WHERE channel = 'test' AND status = 'pending'").fetchone()[0]), what="relay")
    assert await world.deliver() == 0  # refused: nothing delivered…
    assert await world.deliver() == 1  # …and the thread hears why
    thread = [blocks_text(p) for p in posts(mock) if p.get("thread_ts") == (await world.thread_of(ticket.id))[1]]
    assert not [t for t in thread if "Delivered" in t]
    [refused] = [t for t in thread if "Not delivered to the family" in t]
    assert "the family blocked the bot" in refused and "reach them another way" in refused
    assert [e for e in await world.events(ticket.id) if e[0] == "undelivered"]
    status, error, acked = await world.home.db.run(lambda c: c.execute(
        "SELECT status, last_error, acknowledged_at FROM outbox WHERE channel = 'test' AND kind = 'message'"
    ).fetchone())
    assert status == "dead" and "blocked" in error and acked  # given up at once; nobody can fix it by retrying
    assert await world.deliver() == 0  # and never tried again


async def test_the_card_promises_translation_where_a_model_is_installed(world, mock):
    await open_ticket(world)
    assert "machine translated into Vietnamese" in blocks_text(posts(mock)[0])


async def test_a_staff_reply_is_recorded_before_the_ack_and_forgotten_once_handled(world, mock):
    """bot.channels.slack.durable: the inbox holds the reply from before Slack's ack until the
    listener is done; then only its id and outcome stay (not the staff's words)."""
    from bot.channels.slack import durable

    ticket = await open_ticket(world)
    seen: list[tuple] = []
    real = world.home.handoff.reply

    async def spy(*args, **kwargs):  # what the inbox holds while the relay runs
        seen.extend(tuple(r) for r in await world.home.db.run(lambda c: c.execute(
            "SELECT update_id, payload IS NOT NULL, handled_at FROM inbox WHERE channel = ?",
            (durable.SLACK_INBOX,)).fetchall()))
        return await real(*args, **kwargs)
    world.slack.handoff.reply = spy
    await world.reply(STAFF, "We will call you today.", number=ticket.id, event_id="EvDurable1")
    await until(lambda: world.home.db.run(lambda c: c.execute(
        "SELECT handled_at FROM inbox WHERE channel = 'slack' AND update_id = 'EvDurable1'").fetchone()[0]),
        what="the reply marked handled")
    assert seen == [("EvDurable1", 1, None)]
    assert await world.home.db.run(lambda c: [tuple(r) for r in c.execute(
        "SELECT payload, outcome FROM inbox WHERE channel = 'slack'")]) == [(None, "handled")]
    # channel chatter is not a staff reply: nothing recorded
    await world.dispatch(*event_callback_body({"type": "message", "channel": TRIAGE, "user": STAFF, "text": "hi",
                                               "ts": f"{time.time():.6f}"}, event_id="EvChatter"))
    assert await world.home.db.run(lambda c: c.execute(
        "SELECT COUNT(*) FROM inbox WHERE channel = 'slack'").fetchone()[0]) == 1


async def test_a_listener_failure_tells_the_author_at_once_and_is_not_replayed_later(world, mock, monkeypatch):
    ticket = await open_ticket(world)

    def broken(*args):
        raise RuntimeError("database is locked")
    monkeypatch.setattr(tickets, "by_staff_ref", broken)
    await world.reply(STAFF, "We will call you today.", number=ticket.id, event_id="EvBroken1")
    [notice] = await mock.wait_for("chat.postEphemeral")
    assert "Not sent: something went wrong" in notice.params["text"] and notice.params["user"] == STAFF
    await until(lambda: world.home.db.run(lambda c: c.execute(
        "SELECT outcome FROM inbox WHERE channel = 'slack' AND update_id = 'EvBroken1'").fetchone()[0] == "error"),
        what="the event marked handled")


async def test_a_ticket_click_is_recorded_before_the_ack_and_a_failure_is_said_at_once(world, mock, monkeypatch):
    """Clicks change tickets, so they are in the inbox too (bot.channels.slack.durable) until the
    listener is done; a failure tells the person at once and is not replayed at the next start."""
    ticket = await open_ticket(world)
    await world.click("homeroom_claim", STAFF)
    await until(lambda: _status(world, ticket.id, "claimed"), what="claimed")

    channel, ts = await world.thread_of(ticket.id)

    def broken(*args):
        raise RuntimeError("database is locked")
    monkeypatch.setattr(tickets, "get", broken)
    await world.dispatch(*block_action_body("homeroom_resolve", str(ticket.id), STAFF, channel, ts,
                                            response_url=mock.response_url))
    [error] = await mock.wait_for(RESPONSE_URL)
    assert "Not done: something went wrong" in error.params["text"]
    rows = await until(lambda: world.home.db.run(lambda c: [tuple(r) for r in c.execute(
        "SELECT update_id, outcome, payload FROM inbox WHERE channel = 'slack' ORDER BY received_at")]),
        what="the clicks in the inbox")
    assert [(key.split(":")[2], outcome, payload) for key, outcome, payload in rows] == [
        ("homeroom_claim", "handled", None), ("homeroom_resolve", "error", None)]


async def test_note_is_not_relayed(world, mock):
    await open_ticket(world)
    world.parent.clear()
    before = mock.received_count("chat.postMessage")
    await world.reply(STAFF, "note: called the family, no answer")
    await until(lambda: _has_event(world, "note"), what="the note")
    await world.deliver()
    assert world.parent == [] and mock.received_count("chat.postMessage") == before


async def _has_event(world: World, kind: str) -> bool:
    return any(e[0] == kind for e in await world.events())


async def test_non_staff_is_refused_and_nothing_relayed(world, mock):
    await open_ticket(world)
    world.parent.clear()
    await world.reply(OUTSIDER, "I am not staff but here is an answer")
    [ephemeral] = await mock.wait_for("chat.postEphemeral")
    assert ephemeral.params["user"] == OUTSIDER and "Only school staff" in ephemeral.params["text"]
    dm = await until(lambda: [p for p in posts(mock) if p["channel"] == OUTSIDER], what="the DM fallback")
    assert "Nothing was sent" in dm[0]["text"]
    await world.deliver()
    assert world.parent == [] and not await _has_event(world, "staff")
    # the principal is on the [slack] staff list without being in the channel
    await world.reply(PRINCIPAL, "Principal here: we will call you.")
    await until(lambda: _has_event(world, "staff"), what="the principal's reply")


async def test_same_event_three_times_relays_once(world, mock):
    await open_ticket(world)
    world.parent.clear()
    done: list[Any] = []
    real = world.slack.handoff.reply

    async def counting(*args, **kwargs):
        outcome = await real(*args, **kwargs)
        done.append(outcome)
        return outcome
    world.slack.handoff.reply = counting
    for _ in range(3):
        assert (await world.reply(STAFF, "See you at 3 pm.", event_id="Ev0REDELIVERED")).status == 200
    await until(lambda: len(done) == 3, what="three deliveries handled")
    assert sorted(o.duplicate for o in done) == [False, True, True]
    await world.deliver()
    assert len([m for m in world.parent if m.get("from") == "staff"]) == 1
    assert len([e for e in await world.events() if e[0] == "staff"]) == 1


async def test_edit_is_not_relayed_and_the_author_is_told(world, mock):
    await open_ticket(world)
    world.parent.clear()
    channel, ts = await world.thread_of()
    event = {"type": "message", "subtype": "message_changed", "channel": channel, "hidden": True,
             "ts": f"{time.time():.6f}", "event_ts": f"{time.time():.6f}",
             "message": {"type": "message", "user": STAFF, "text": "See you at 4 pm.", "ts": "1700000500.000100",
                         "thread_ts": ts, "edited": {"user": STAFF, "ts": "1700000600.000000"}},
             "previous_message": {"type": "message", "user": STAFF, "text": "See you at 3 pm.",
                                  "ts": "1700000500.000100", "thread_ts": ts}}
    assert (await world.dispatch(*event_callback_body(event))).status == 200
    [ephemeral] = await mock.wait_for("chat.postEphemeral")
    assert ephemeral.params["user"] == STAFF and "Edits are not sent" in ephemeral.params["text"]
    await world.deliver()
    assert world.parent == []


async def test_claim_and_resolve_update_the_message(world, mock):
    ticket = await open_ticket(world)
    channel, ts = await world.thread_of(ticket.id)
    assert (await world.click("homeroom_claim", STAFF)).status == 200
    await until(lambda: _status(world, ticket.id, "claimed"), what="claimed")
    await world.deliver()
    [update] = mock.calls("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (channel, ts)
    assert f"Claimed by <@{STAFF}>" in blocks_text(mock.message(channel, ts))

    assert (await world.click("homeroom_resolve", STAFF)).status == 200
    await until(lambda: _status(world, ticket.id, "resolved"), what="resolved")
    await world.deliver()
    assert mock.received_count("chat.update") == 2
    assert f"Resolved by <@{STAFF}>" in blocks_text(mock.message(channel, ts))
    # the bot is back, in Vietnamese, and says what happened: closed with no staff reply
    told = [m["text"] for m in world.parent]
    assert await resolved_text(world, msgid=CLOSED_UNANSWERED_TEXT) in told and await resolved_text(world) not in told

    # resolving again: an ephemeral error (through response_url); a non-member: refused
    await world.click("homeroom_resolve", STAFF)
    [error] = await mock.wait_for(RESPONSE_URL)
    assert "cannot make it resolved" in error.params["text"] and error.params["response_type"] == "ephemeral"
    await world.click("homeroom_reopen", OUTSIDER)
    calls = await mock.wait_for(RESPONSE_URL, 2)
    assert "Only school staff" in calls[1].params["text"]
    assert (await world.ticket(ticket.id)).status == "resolved"


async def test_deleted_ticket_message_is_posted_again_on_update(world, mock):
    ticket = await open_ticket(world)
    old_ref = ticket.staff_ref
    mock.fail_next("chat.update", status=200, error="message_not_found")
    await world.click("homeroom_claim", STAFF)
    await until(lambda: _status(world, ticket.id, "claimed"), what="claimed")
    await world.deliver()
    new_ref = (await world.ticket(ticket.id)).staff_ref
    assert new_ref != old_ref and f"Claimed by <@{STAFF}>" in blocks_text(posts(mock)[-1])


async def resolved_text(world: World, lang: str = "vi", msgid: str = RESOLVED_TEXT) -> str:
    """What the family is told when its ticket is resolved (curated Vietnamese, or machine)."""
    return (await world.home.engine.localizer.render(Text(msgid), lang)).text


async def _status(world: World, number: int, status: str) -> bool:
    return (await world.ticket(number)).status == status


async def test_forged_and_stale_signatures_get_401_and_do_nothing(world, mock):
    await open_ticket(world)
    world.parent.clear()
    mock.reset()
    channel, ts = await world.thread_of()
    event = {"type": "message", "channel": channel, "user": STAFF, "text": "forged", "ts": "1700000900.000100",
             "thread_ts": ts}
    body, _ = event_callback_body(event)
    forged = await world.dispatch(body, signed_headers("not-the-secret", body))
    stale = await world.dispatch(body, signed_headers(SIGNING_SECRET, body, timestamp=int(time.time()) - 6 * 60))
    assert (forged.status, stale.status) == (401, 401)
    await asyncio.sleep(0.2)
    assert mock.requests == [] and not await _has_event(world, "staff")
    await world.deliver()
    assert world.parent == []


async def test_restart_delivers_pending_rows_none_twice(slack_settings, mock):
    clock = Clock(MONDAY_10AM)
    world = await World(slack_settings, mock, clock).start()
    try:
        await open_ticket(world)                       # ticket 1 posted and marked sent
        await world.say("p1", "message one")
        await world.say("p1", "message two")           # two thread rows, pending
        await world.vietnamese("p2")
        await world.say("p2", "/human")                # ticket 2: posted to Slack, then "killed" before
        due = await world.home.db.run(outbox.due, ["staff"], clock().isoformat())
        [new] = [item for item in due if item.kind == "ticket_new"]
        await world.slack.sender(new)                  # ... Delivery could mark its row sent
        assert (await world.ticket(2)).staff_ref
    finally:
        await world.close()
    before = mock.received_count("chat.postMessage")
    assert before == 2

    restarted = await World(slack_settings, mock, clock).start()
    try:
        assert await restarted.pending() == 3
        await restarted.deliver()
        assert await restarted.pending() == 0
        texts = [p["text"] for p in posts(mock)[before:]]
        assert len(texts) == 2 and "message one" in texts[0] and "message two" in texts[1]
        assert mock.received_count("chat.postMessage") == before + 2  # ticket 2 was not posted again
        assert await restarted.deliver() == 0
    finally:
        await restarted.close()


# ---------------------------------------------------------------------------------------- clock, commands

async def test_first_response_reminder_once_and_auto_resume(world, mock):
    await open_ticket(world)
    world.parent.clear()
    world.clock.advance(minutes=31)
    assert await world.slack.ticket_clock.check_once() == (1, 0)
    assert await world.slack.ticket_clock.check_once() == (0, 0)  # remembered
    await world.deliver()
    reminder = posts(mock)[-1]
    assert reminder.get("thread_ts") and "No staff reply yet" in reminder["text"]
    world.clock.advance(hours=48)
    assert await world.slack.ticket_clock.check_once() == (0, 1)
    assert (await world.ticket(1)).status == "resolved"
    await world.deliver()
    told = [m["text"] for m in world.parent]
    assert await resolved_text(world, msgid=AUTO_RESUMED_TEXT) in told  # says why the bot is back
    assert await resolved_text(world) not in told
    assert "No staff activity" in blocks_text(mock.calls("chat.update")[-1].params) or \
        "no staff activity" in blocks_text(mock.calls("chat.update")[-1].params)


async def test_slash_command_home_and_catch_all(world, mock):
    await open_ticket(world)
    await world.dispatch(*slash_command_body("/homeroom", "tickets", STAFF, TRIAGE, response_url=mock.response_url))
    [listing] = await mock.wait_for(RESPONSE_URL)
    assert "#1" in json.dumps(listing.params) and listing.params["response_type"] == "ephemeral"
    await world.dispatch(*slash_command_body("/homeroom", "stats", STAFF, TRIAGE, response_url=mock.response_url))
    stats = (await mock.wait_for(RESPONSE_URL, 2))[1]
    assert "Hand-offs to staff: *1*" in json.dumps(stats.params, ensure_ascii=False)
    await world.dispatch(*slash_command_body("/homeroom", "ticket 1", STAFF, TRIAGE, response_url=mock.response_url))
    detail = (await mock.wait_for(RESPONSE_URL, 3))[2]
    assert SPECIAL_ED in json.dumps(detail.params, ensure_ascii=False)
    audit = await world.home.db.run(lambda c: [tuple(r) for r in c.execute("SELECT actor, action FROM audit_log")])
    assert (STAFF, "view") in audit
    await world.dispatch(*slash_command_body("/homeroom", "tickets", OUTSIDER, TRIAGE, response_url=mock.response_url))
    refused = (await mock.wait_for(RESPONSE_URL, 4))[3]
    assert "Only school staff" in refused.params["text"]

    home = {"type": "app_home_opened", "user": STAFF, "channel": "D123", "tab": "home", "event_ts": "1.2"}
    assert (await world.dispatch(*event_callback_body(home))).status == 200
    [publish] = await mock.wait_for("views.publish")
    assert publish.params["user_id"] == STAFF and "#1" in json.dumps(mock.home_views[STAFF])

    other = {"type": "reaction_added", "user": STAFF, "reaction": "eyes", "item": {"type": "message"}}
    assert (await world.dispatch(*event_callback_body(other))).status == 200
    body, headers = block_action_body("something_else", "x", STAFF, TRIAGE, "1.1")
    assert (await world.dispatch(body, headers)).status == 200


# ---------------------------------------------------------------------------------------- pure parts

def test_escape_split_and_block_limits():
    assert blocks.escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    long = ("word " * 1500 + "\n") * 3 + "&" * 4000
    sections = blocks.sections("*Parent:*", long)
    assert all(blocks.slack_len(s["text"]["text"]) <= 3000 for s in sections)
    assert "&amp" not in "".join(s["text"]["text"].replace("&amp;", "") for s in sections)  # no cut entity
    card = blocks.TicketCard(ticket_id=7, topic="general", priority="normal", status="open", family="F",
                             language="en", language_name="English", words="\n".join(["x" * 2900] * 80))
    text, built = blocks.ticket_message(card)
    assert len(built) <= 50 and built[-1]["type"] == "actions"
    assert all(blocks.slack_len(b["text"]["text"]) <= 3000 for b in built if b["type"] == "section" and "text" in b)
    assert blocks.slack_len(text) <= 3000


def test_slack_markup_to_plain_text():
    assert blocks.slack_to_plain("Hi <@U1|ana>, see <https://x.example/f|the form> or <https://y.example>"
                                 " in <#C1|office> &lt;3 &amp; <!here>") == \
        "Hi @ana, see the form (https://x.example/f) or https://y.example in #office <3 & @here"


async def test_channel_pacer_spaces_posts_per_channel(monkeypatch):
    """On a clock the test moves: what the pacer waits for, not how long the machine took."""
    now = [100.0]
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds
        await real_sleep(0)

    monkeypatch.setattr("bot.channels.slack.sender.asyncio.sleep", sleep)
    pacer = ChannelPacer(0.2, clock=lambda: now[0])
    await pacer.wait("C1")
    await pacer.wait("C2")
    assert waits == []  # a first post to each channel goes at once
    now[0] += 0.05
    await pacer.wait("C1")
    assert waits == [0.15]  # the rest of C1's 0.2 s
    now[0] += 1.0
    await pacer.wait("C1")
    assert waits == [0.15]  # long after the last post: no wait


def test_slack_profile_is_validated(tmp_path):
    base = (REPO_ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8")
    path = tmp_path / "school.toml"
    path.write_text(base + SLACK_TABLE, encoding="utf-8")
    slack = load_school_profile(path).slack
    assert slack.channel_for("transportation", "normal") == BUS and slack.channel_for("bus", "urgent") == URGENT
    assert slack.note_prefix == "note:" and slack.staff == (PRINCIPAL,)
    path.write_text(base + '\n[slack]\ndefault_channel = "#triage"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="channel's id"):
        load_school_profile(path)
    path.write_text(base + '\n[slack]\nurgent_channel = "C1URGENT"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="default_channel is required"):
        load_school_profile(path)
    assert load_school_profile(REPO_ROOT / "sample_school" / "school.toml").slack is None
