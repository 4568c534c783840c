"""The conversation engine end to end with the real store and catalog: replies, state, errors."""

from __future__ import annotations

import asyncio
import logging

from bot.app import start
from bot.storage import conversations, families, tickets
from support import msg


async def test_scripted_conversation(engine):
    [welcome] = await engine.handle(msg("/start"))
    assert "Maple Grove" in welcome.text
    payloads = [c.payload for c in welcome.choices]
    assert "intent:report_absence" in payloads and "human" in payloads

    [hours] = await engine.handle(msg(payload="intent:school_hours"))
    assert "8:10 AM" in hours.text and "2:50 PM" in hours.text  # filled from the school profile

    [absence] = await engine.handle(msg("hi my son has a fever and will stay home today"))
    assert "record the absence here" in absence.text  # the absence report (tests/test_absences.py)
    await engine.handle(msg("cancel"))

    [oos] = await engine.handle(msg("what's the weather in paris this weekend"))
    assert "only help with questions about Maple Grove" in oos.text


async def test_messages_and_state_are_stored(app, engine):
    await engine.handle(msg("/start", hint="es-MX"))
    await engine.handle(msg("when does school start"))
    fam = await app.db.run(families.find, "test", "p1")
    rows = await app.db.run(lambda c: c.execute(
        "SELECT direction, intent, text FROM messages WHERE family_id = ? ORDER BY id", (fam.id,)).fetchall())
    state = await app.db.run(conversations.load, fam.id)
    assert fam.language == "es" and fam.language_source == "hint"
    # the answer, then (an English message from a Spanish-hinted family) the offer to switch
    assert [r[0] for r in rows] == ["in", "out", "in", "out", "out"]
    assert "answer in English" in rows[4][2]
    assert rows[2][1] == "school_hours"
    assert state.choices, "the last offered choices are remembered to validate the next pick"


async def test_stale_or_forged_choice_gets_polite_menu(engine):
    await engine.handle(msg("/start"))
    for forged in ("intent:no_such_topic", "lang:xx", "volunteer", "menu:extra", "nonsense:1"):
        [reply] = await engine.handle(msg(payload=forged))
        assert "expired" in reply.text and reply.choices, forged


async def test_an_older_talk_to_a_person_button_during_a_hand_off_opens_nothing_new(engine):
    await engine.handle(msg("/human"))
    for payload in ("human", "intent:talk_to_human"):
        [reply] = await engine.handle(msg(payload=payload))
        assert "already has your conversation" in reply.text, payload
    assert len(await engine.db.run(lambda c: c.execute("SELECT id FROM tickets").fetchall())) == 1


async def test_the_out_of_scope_intent_is_not_a_button(engine):
    [reply] = await engine.handle(msg(payload="intent:out_of_scope"))
    assert "expired" in reply.text and reply.choices


async def test_a_topic_button_from_an_older_message_still_answers(engine):
    """Topic buttons point at public answers and change nothing, so one tapped on an older
    message (here: never offered in this chat at all) answers its topic."""
    await engine.handle(msg("/start"))
    await engine.handle(msg("What time does school start?"))
    [reply] = await engine.handle(msg(payload="intent:enrollment"))
    assert "register" in reply.text and "expired" not in reply.text


class FirstCallFails:
    """The running matcher, except that its first classification raises."""

    def __init__(self, real) -> None:
        self.real, self.calls = real, 0

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    async def aclassify(self, text: str, lang: str | None = None):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("matcher exploded")
        return await self.real.aclassify(text, lang)


async def test_exception_yields_apology_with_reference_and_next_message_works(engine, caplog):
    engine.understanding.replace(matcher=FirstCallFails(engine.understanding.current.matcher))
    with caplog.at_level(logging.ERROR, logger="bot.engine"):
        [sorry] = await engine.handle(msg("when does school start"))
    assert "something went wrong" in sorry.text and "(951) 555-0142" in sorry.text
    ref = sorry.text.split("reference ")[1][:8]
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)
    [ok] = await engine.handle(msg("when does school start"))
    assert "8:10 AM" in ok.text


async def test_restart_mid_conversation_resumes(settings):
    first = await start(settings)
    [ask] = await first.engine.handle(msg("/language"))
    assert any(c.payload == "lang:es" for c in ask.choices)
    await first.close()

    second = await start(settings)  # a new process would do the same
    try:
        [done] = await second.engine.handle(msg("Español"))
        assert done.language == "es"
        fam = await second.db.run(families.find, "test", "p1")
        assert (fam.language, fam.language_source) == ("es", "explicit")
    finally:
        await second.close()


async def test_handoff_intent_records_a_ticket(app, engine):
    from datetime import datetime, timezone

    engine.clock = lambda: datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)  # Tue 9 AM: the office is open
    replies = await engine.handle(msg("a boy in his class keeps hitting my son and calling him names"))
    text = " ".join(r.text for r in replies)
    assert "911" in text  # urgent guidance comes first
    # the sample school has neither Slack nor email: no alert is claimed, the family is told to call
    assert "alerting" not in text and "cannot alert the school staff" in replies[-1].text
    assert "(951) 555-0142" in replies[-1].text
    open_tickets = await app.db.run(tickets.list_open)
    assert len(open_tickets) == 1
    assert (open_tickets[0].priority, open_tickets[0].intent) == ("urgent", "bullying_report")


async def test_an_urgent_report_at_night_with_no_staff_channel_is_not_sent_to_a_closed_office(engine):
    """No Slack, no email, 9 PM: "call the office now" would send the parent to a phone nobody
    answers. They are told when it opens, and the emergency number, in their language."""
    from datetime import datetime, timezone

    engine.clock = lambda: datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc)  # Tue Dec 1, 9 PM at the school
    replies = await engine.handle(msg("a boy in his class keeps hitting my son and calling him names"))
    last = replies[-1].text
    assert "cannot alert the school staff" in last and "closed until Wednesday 7:30 AM" in last, last
    assert "call 911 now" in last and "call the office" not in last, last
    spanish = await engine.handle(msg("un niño de su clase le pega a mi hijo todos los días", user="p2", hint="es"))
    last = spanish[-1].text
    assert "no puede avisar de inmediato" in last and "cerrada hasta" in last and "911" in last, last


async def test_two_misses_offer_a_person_first(engine):
    await engine.handle(msg("zorp blick fnord"))
    [second] = await engine.handle(msg("glarb wibble quux"))
    assert second.choices[0].payload == "human"
    handed = await engine.handle(msg(payload="human"))
    assert "passed your message" in handed[-1].text


async def test_families_are_handled_concurrently_and_in_order(app, engine):
    texts = ["when does school start", "is there a bus", "what is for lunch"]
    sent = [(f"u{i % 5}", f"{t} #{i}") for i, t in enumerate(texts * 10)]
    results = await asyncio.gather(*(engine.handle(msg(text, user=user)) for user, text in sent))
    assert all(len(r) >= 1 for r in results)
    rows = await app.db.run(lambda c: c.execute(
        "SELECT f.channel_user_id, m.text FROM messages m JOIN families f ON f.id = m.family_id"
        " WHERE m.direction = 'in' ORDER BY m.id").fetchall())
    assert len(rows) == 30
    for user in {u for u, _ in sent}:  # each family's messages were handled in the order sent
        assert [t for u, t in rows if u == user] == [t for u, t in sent if u == user]


async def test_state_changed_elsewhere_is_reloaded_not_overwritten(app, engine):
    await engine.handle(msg("/start"))  # the engine now caches this family
    fam = await app.db.run(families.find, "test", "p1")

    def staff_sets_language(conn):  # e.g. another process or a staff action
        families.set_language(conn, fam.id, "es", "explicit")
        conversations.bump(conn, fam.id)
    await app.db.transact(staff_sets_language)

    [reply] = await engine.handle(msg("when does school start"))
    assert reply.language == "es"  # the turn was redone from the store, not the stale cache
    state = await app.db.run(conversations.load, fam.id)
    assert state.version == 3  # /start (1), the bump (2), this turn (3)


async def test_deleted_family_starts_fresh(app, engine):
    await engine.handle(msg("/start"))
    await app.db.transact(lambda c: c.execute("DELETE FROM families WHERE channel_user_id = 'p1'"))
    [reply] = await engine.handle(msg("when does school start"))
    assert "8:10 AM" in reply.text
    assert await app.db.run(lambda c: c.execute("SELECT COUNT(*) FROM families").fetchone()[0]) == 1


async def test_a_possible_emergency_comes_first_with_the_emergency_number(engine):
    """Not sure what the parent means, and one meaning is a safety emergency: that option leads,
    and the reply says to call 911 first — in the family's language."""
    [reply] = await engine.handle(msg("there is a man walking around the playground acting weird", user="u1"))
    assert reply.text.startswith("If anyone is in danger right now, call 911 first.")
    assert reply.choices[0].payload == "intent:safety_emergency" and reply.choices[-1].payload == "other"
    [spanish] = await engine.handle(msg("hay un hombre raro dando vueltas por el patio de juegos", user="u2", hint="es"))
    assert spanish.choices[0].payload == "intent:safety_emergency"
    assert spanish.text.startswith("Si alguien está en peligro en este momento, llame primero al 911.")


async def test_an_ordinary_clarification_does_not_mention_emergencies(engine):
    [reply] = await engine.handle(msg("is there something on this month", user="u3"))
    assert reply.text == "I want to be sure I understand. Did you mean:"
    assert "intent:safety_emergency" not in [c.payload for c in reply.choices]
