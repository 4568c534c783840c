"""A student who writes to the parents' line is told kindly that it is for parents and
guardians, pointed to trusted adults, and handed to staff (issue #8)."""

from __future__ import annotations

from bot.core.messages import Incoming
from bot.storage import tickets


async def test_a_student_is_told_kindly_and_handed_to_staff(app):
    replies = await app.engine.handle(Incoming("test", "kid1", "kid1", "hi i'm in 5th grade"))
    text = " ".join(r.text for r in replies)
    assert "parents and guardians" in text and app.profile.info["counselor_name"] in text
    assert "passed your message to the staff" in text
    [ticket] = await app.db.run(tickets.list_open)
    assert ticket.intent == "student_self_identified" and ticket.topic == "support"


async def test_a_parent_mentioning_their_student_is_not_taken_for_one(app):
    replies = await app.engine.handle(Incoming("test", "p1", "p1", "my daughter is a student here and is sick"))
    assert "parents and guardians" not in " ".join(r.text for r in replies)
    assert await app.db.run(tickets.list_open) == []
