"""The hand-off loop without any chat platform: tickets, the outbox, staff replies, notes,
duplicates, resolve, after-hours, the audit log — through the engine and `bot.handoff`."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from bot.app import start
from bot.core.messages import Incoming
from bot.delivery import Delivery, RetryLater
from bot.handoff import Handoff, TicketError
from bot.storage import Database, outbox, tickets
from bot.translation import FakeTranslator

MONDAY_10AM = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)    # 10:00 in Los Angeles
SATURDAY = datetime(2026, 11, 21, 18, 0, tzinfo=timezone.utc)


def msg(text="", payload=None, user="p1"):
    return Incoming("test", user, user, text, payload=payload)


@pytest.fixture
async def loop(settings):
    """A running Homeroom at a fixed time in office hours, a translator, its hand-off service."""
    app = await start(settings, translator=FakeTranslator(languages=["en", "vi"]))
    app.engine.clock = lambda: MONDAY_10AM
    handoff = Handoff(app.db, app.engine.localizer, app.profile, clock=lambda: MONDAY_10AM)
    yield app, handoff
    await app.close()


async def pending(app, channel=None):
    rows = await app.db.run(lambda c: c.execute(
        "SELECT channel, target, kind, payload FROM outbox WHERE status = 'pending' ORDER BY id").fetchall())
    return [r for r in rows if channel is None or r[0] == channel]


async def test_handoff_writes_ticket_and_staff_outbox_in_one_turn(loop):
    app, _ = loop
    replies = await app.engine.handle(msg("my son needs a special education evaluation for an IEP, how do we start"))
    assert "passed your message" in replies[-1].text
    assert not any("closed" in r.text for r in replies)  # Monday 10 AM: office open
    [ticket] = await app.db.run(tickets.list_open)
    assert ticket.intent == "special_education"
    assert [(r[0], r[2]) for r in await pending(app)] == [("staff", "ticket_new")]


async def test_open_ticket_forwards_messages_and_staff_reply_reaches_parent_translated(loop):
    app, handoff = loop
    await app.engine.handle(msg("/language"))
    await app.engine.handle(msg(payload="lang:vi"))
    await app.engine.handle(msg("/human"))
    [ticket] = await app.db.run(tickets.list_open)
    first = await app.engine.handle(msg("tôi muốn hỏi về lịch học của con"))
    assert first and first[0].language == "vi"  # acknowledged once, in the family's language
    assert await app.engine.handle(msg("hôm nay nữa")) == []  # then quietly forwarded
    thread = [r for r in await pending(app, "staff") if r[2] == "ticket_thread"]
    assert len(thread) == 2 and '"translation": "[en] ' in thread[0][3]

    outcome = await handoff.reply(ticket.id, "ms.adams", "We are looking into it today.", event_id="Ev1")
    assert outcome.relayed and outcome.text_sent.startswith("[vi] We are looking into it today.")
    assert outcome.back_translation.startswith("[en] ")
    parent_rows = await pending(app, "test")
    assert len(parent_rows) == 1 and "[vi] We are looking" in parent_rows[0][3]
    context = [r for r in await pending(app, "staff") if r[2] == "ticket_context"]
    assert "Back-translation" in context[0][3]
    assert (await app.db.run(tickets.get, ticket.id)).first_response_at is not None


async def test_notes_are_internal_and_duplicates_do_nothing(loop):
    app, handoff = loop
    await app.engine.handle(msg("/human"))
    [ticket] = await app.db.run(tickets.list_open)
    note = await handoff.reply(ticket.id, "sam", "note: called the family, no answer")
    assert note.internal and not note.relayed
    for _ in range(3):
        await handoff.reply(ticket.id, "sam", "Hello! How can we help?", event_id="Ev42")
    assert len(await pending(app, "test")) == 1  # one relay for three deliveries of the event


async def test_resolve_tells_the_family_and_the_bot_answers_again(loop):
    app, handoff = loop
    await app.engine.handle(msg("/human"))
    [ticket] = await app.db.run(tickets.list_open)
    assert await app.engine.handle(msg("what time does school start?")) != []  # ack, goes to staff
    await handoff.claim(ticket.id, "sam")
    await handoff.resolve(ticket.id, "sam")
    assert any("marked your question as answered" in r[3] for r in await pending(app, "test"))
    [answer] = await app.engine.handle(msg("what time does school start?"))
    assert "8:10 AM" in answer.text  # the engine's cached state was invalidated by the resolve
    with pytest.raises(TicketError):
        await handoff.resolve(ticket.id, "sam")
    await handoff.reopen(ticket.id, "sam")
    assert (await app.db.run(tickets.get, ticket.id)).status == "open"


async def test_after_hours_the_family_is_told_when_to_expect_a_reply(settings):
    app = await start(settings)
    app.engine.clock = lambda: SATURDAY
    try:
        replies = await app.engine.handle(msg("/human"))
        closed = [r.text for r in replies if "closed" in r.text]
        assert closed and "Monday 7:30 AM" in closed[0] and "911" in closed[0]
    finally:
        await app.close()


async def test_audit_log_is_append_only(loop):
    app, handoff = loop
    await app.engine.handle(msg("/human"))
    [ticket] = await app.db.run(tickets.list_open)
    await handoff.show(ticket.id, "sam")
    rows = await app.db.run(lambda c: [tuple(r) for r in c.execute("SELECT actor, action FROM audit_log")])
    assert ("sam", "view") in rows
    for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await app.db.run(lambda c, q=sql: c.execute(q))


async def test_delivery_retries_in_order_and_marks_sent_once(tmp_path):
    async with Database(tmp_path / "h.sqlite3") as db:
        now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        for i in range(3):
            await db.transact(lambda c, i=i: outbox.add(c, "x", "chat", "message", {"n": i}, now.isoformat()))
        await db.transact(lambda c: outbox.add(c, "x", "other", "message", {"n": 99}, now.isoformat()))
        sent: list[int] = []
        answers = iter(["429", "500", "ok", "ok", "ok", "ok"])
        clock = {"t": now}

        async def sender(item):
            answer = next(answers) if item.target == "chat" else "ok"
            if answer == "429":
                raise RetryLater("rate limited", after=0)
            if answer == "500":
                raise RuntimeError("server error")
            sent.append(item.payload["n"])

        delivery = Delivery(db, clock=lambda: clock["t"])
        delivery.register("x", sender)
        for _ in range(10):
            clock["t"] = clock["t"].replace(minute=clock["t"].minute + 5)
            await delivery.run_once()
        assert [n for n in sent if n != 99] == [0, 1, 2]  # in order despite 429 then 500
        assert sent.count(99) == 1  # the other chat was not held up, and went once
        assert (await db.run(outbox.depth))[0] == 0


async def test_outbox_survives_a_restart(tmp_path):
    path = tmp_path / "h.sqlite3"
    now = datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat()
    async with Database(path) as db:
        await db.transact(lambda c: outbox.add(c, "x", "chat", "message", {"n": 1}, now))
    async with Database(path) as db:  # a new process
        got = []

        async def sender(item):
            got.append(item.payload)
        delivery = Delivery(db)
        delivery.register("x", sender)
        assert await delivery.run_once() == 1 and got == [{"n": 1}]
        assert await delivery.run_once() == 0


async def test_urgent_words_during_an_open_ticket_get_guidance_and_raise_priority(loop):
    app, _ = loop
    await app.engine.handle(msg("/human"))
    replies = await app.engine.handle(msg("a boy keeps punching my son at recess every day"))
    assert any("911" in r.text for r in replies)
    [ticket] = await app.db.run(tickets.list_open)
    assert ticket.priority == "urgent"
