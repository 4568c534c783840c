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
from bot.outbox_messages import TicketReminder
from bot.storage import Database, outbox, tickets
from bot.translation import FakeTranslator
from support import msg

MONDAY_10AM = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)    # 10:00 in Los Angeles
SATURDAY = datetime(2026, 11, 21, 18, 0, tzinfo=timezone.utc)


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
    assert first and first[0].language == "vi"  # acknowledged, in the family's language
    [again] = await app.engine.handle(msg("hôm nay nữa"))  # every later message is acknowledged too
    assert again.language == "vi" and again.text != first[0].text
    thread = [r for r in await pending(app, "staff") if r[2] == "ticket_thread"]
    assert len(thread) == 2 and '"translation": "[en] ' in thread[0][3]

    outcome = await handoff.reply(ticket.id, "ms.adams", "We are looking into it today.", event_id="Ev1")
    assert outcome.relayed and outcome.text_sent.startswith("[vi] We are looking into it today.")
    assert outcome.back_translation.startswith("[en] ") and not outcome.untranslated
    assert outcome.staff_note.startswith("Queued for the family in Vietnamese (automatic translation)")
    parent_rows = await pending(app, "test")
    assert len(parent_rows) == 1 and "[vi] We are looking" in parent_rows[0][3]
    # "Delivered" reaches staff only once the family's message is delivered
    assert not [r for r in await pending(app, "staff") if r[2] == "ticket_context"]
    delivered = []

    async def parent_channel(item):
        delivered.append(item.message.text)
    app.delivery.register("test", parent_channel)
    await app.delivery.run_once()
    assert len(delivered) == 1
    context = [r for r in await pending(app, "staff") if r[2] == "ticket_context"]
    assert "Delivered to the family in Vietnamese" in context[0][3] and "Back-translation" in context[0][3]
    await app.delivery.run_once()  # marked sent once: no second "Delivered"
    assert len([r for r in await pending(app, "staff") if r[2] == "ticket_context"]) == 1
    assert (await app.db.run(tickets.get, ticket.id)).first_response_at is not None


async def test_a_reply_no_model_can_translate_is_said_so_to_staff_and_family(settings):
    """No model for the family's language: staff hear it at once, the family gets the English
    words with a note in its language, the ticket is flagged, and status counts the reply."""
    from bot.handoff import ENGLISH_REPLY_NOTE
    from bot.ops.status import gather_status

    app = await start(settings, translator=None)
    try:
        app.engine.clock = lambda: MONDAY_10AM
        handoff = Handoff(app.db, app.engine.localizer, app.profile, clock=lambda: MONDAY_10AM)
        await app.engine.handle(msg("/language"))
        await app.engine.handle(msg(payload="lang:es"))
        await app.engine.handle(msg("necesito hablar con alguien de la oficina sobre el autobús"))
        await app.engine.handle(msg("/human"))
        [ticket] = await app.db.run(tickets.list_open)
        outcome = await handoff.reply(ticket.id, "ms.adams", "We will call you at 3 pm.")
        assert outcome.relayed and outcome.untranslated
        assert "No translation model for Spanish is installed" in outcome.staff_note
        assert "needs interpreter" in outcome.staff_note
        note_es = app.engine.localizer.locales.lookup("es", ENGLISH_REPLY_NOTE)
        assert note_es and outcome.text_sent.startswith("We will call you at 3 pm.")
        assert outcome.text_sent.endswith(note_es.replace("{office_phone}", app.profile.info["office_phone"]))
        assert (await app.db.run(tickets.get, ticket.id)).interpreter == "Spanish"
        status = await gather_status(app.db, app.settings, now=MONDAY_10AM)
        assert status.replies_untranslated == 1 and "sent in English only" in status.render()
    finally:
        await app.close()


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
    await handoff.resolve(ticket.id, "sam")  # nobody wrote a reply: the family is told exactly that
    said = [r[3] for r in await pending(app, "test")]
    assert any("closed your conversation without writing a reply" in t for t in said)
    assert not any("marked your question as answered" in t for t in said)
    [answer] = await app.engine.handle(msg("what time does school start?"))
    assert "8:10 AM" in answer.text  # the engine's cached state was invalidated by the resolve
    with pytest.raises(TicketError):
        await handoff.resolve(ticket.id, "sam")
    await handoff.reopen(ticket.id, "sam")
    assert (await app.db.run(tickets.get, ticket.id)).status == "open"
    await handoff.reply(ticket.id, "sam", "School starts at 8:10.")
    await handoff.resolve(ticket.id, "sam")  # answered this time
    assert any("marked your question as answered" in r[3] for r in await pending(app, "test"))


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
            await db.transact(lambda c, i=i: outbox.add(c, "x", "chat", TicketReminder(i), now.isoformat()))
        await db.transact(lambda c: outbox.add(c, "x", "other", TicketReminder(99), now.isoformat()))
        sent: list[int] = []
        answers = iter(["429", "500", "ok", "ok", "ok", "ok"])
        clock = {"t": now}

        async def sender(item):
            answer = next(answers) if item.target == "chat" else "ok"
            if answer == "429":
                raise RetryLater("rate limited", after=0)
            if answer == "500":
                raise RuntimeError("server error")
            sent.append(item.message.minutes)

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
        await db.transact(lambda c: outbox.add(c, "x", "chat", TicketReminder(1), now))
    async with Database(path) as db:  # a new process
        got = []

        async def sender(item):
            got.append(item.message)
        delivery = Delivery(db)
        delivery.register("x", sender)
        assert await delivery.run_once() == 1 and got == [TicketReminder(1)]
        assert await delivery.run_once() == 0


async def test_urgent_words_during_an_open_ticket_get_guidance_and_raise_priority(loop):
    app, _ = loop
    await app.engine.handle(msg("/human"))
    replies = await app.engine.handle(msg("a boy keeps punching my son at recess every day"))
    assert any("911" in r.text for r in replies)
    [ticket] = await app.db.run(tickets.list_open)
    assert ticket.priority == "urgent"


def test_tickets_command_shows_the_family_context_and_says_what_a_reply_becomes(tmp_path, monkeypatch, capsys):
    """`homeroom tickets show|reply` for a school without Slack: the family's name, the bot's last
    answers and the parent's words; a reply no model can translate is said so at once."""
    import asyncio

    from bot.cli import main
    from bot.config import Settings
    from conftest import SHARED_CACHE

    monkeypatch.setenv("HOMEROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOMEROOM_CACHE_DIR", str(SHARED_CACHE))
    monkeypatch.setenv("HOMEROOM_TRANSLATION", "off")

    async def seed() -> None:
        app = await start(Settings.from_env())
        try:
            say = lambda text="", payload=None: app.engine.handle(
                Incoming("test", "p1", "p1", text, payload=payload, display_name="Maria Lopez"))
            await say("/language")
            await say(payload="lang:es")
            await say("¿a qué hora empieza la escuela?")
            await say("/human")
        finally:
            await app.close()
    asyncio.run(seed())

    assert main(["tickets", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "family: Maria Lopez" in shown and "earlier in the conversation:" in shown
    assert "bot: " in shown and "¿a qué hora empieza la escuela?" in shown
    assert "family: /human" not in shown and "needs interpreter: Spanish" in shown
    assert main(["tickets", "reply", "1", "We", "will", "call", "you."]) == 0
    replied = capsys.readouterr().out
    assert "No translation model for Spanish is installed" in replied and "We will call you." in replied
