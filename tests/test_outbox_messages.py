"""The outbox's typed messages read the rows earlier versions stored, and write the same bytes.

Each case is an outbox row's `kind` and `payload` column exactly as the version before typed
messages wrote it (hand-built dicts through `json.dumps(..., ensure_ascii=False)`), and the
message it must decode to."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot.core.messages import Attachment, Choice, Media, Outgoing
from bot.delivery import Delivery
from bot.outbox_messages import (AbsenceNotice, DigestCount, Email, FamilyMessage, FollowUp, Reply, SignupsAlert, SignupsDigest,
                                 SignupText, TicketContext, TicketNew, TicketReminder, TicketThread, TicketUpdate,
                                 Unreadable, decode, to_family)
from bot.storage import Database, outbox

DELIVERED = FollowUp("staff", "ticket:3", TicketContext("Delivered to the family in Vietnamese"), 3)
REFUSED = FollowUp("staff", "ticket:3", TicketContext("Not delivered to the family: {reason}. Call them."), 3)

STORED = [
    ("reply", '{"text": "Hi — pick one", "language": "en", "machine": false, "choices": '
              '[{"label": "Menu", "payload": "menu"}]}',
     Reply(Outgoing("", "", "Hi — pick one", (Choice("Menu", "menu"),)))),
    ("reply", '{"text": "Your data", "language": "vi", "machine": true, "choices": [], "attachment": '
              '{"filename": "my-data.json", "mime_type": "application/json", "content_b64": "e30="}}',
     Reply(Outgoing("", "", "Your data", (), Attachment("my-data.json", b"{}", "application/json"), "vi", True))),
    ("message", '{"text": "Chúng tôi đang xem", "language": "vi", "from": "bot"}',
     FamilyMessage("Chúng tôi đang xem", "vi")),
    ("message", '{"text": "Xin chào", "language": "vi", "machine": true, "from": "staff", "then": {"channel": '
                '"staff", "target": "ticket:3", "kind": "ticket_context", "payload": {"text": "Delivered to the '
                'family in Vietnamese"}, "ticket_id": 3}, "if_undeliverable": {"channel": "staff", "target": '
                '"ticket:3", "kind": "ticket_context", "payload": {"text": "Not delivered to the family: {reason}. '
                'Call them."}, "ticket_id": 3}}',
     FamilyMessage("Xin chào", "vi", "staff", True, then=DELIVERED, if_undeliverable=REFUSED)),
    ("message", '{"text": "Good news!", "language": "es", "from": "bot", "event": "signup_promoted", "choices": '
                '[{"label": "Rechazar", "payload": "volunteer:decline:7"}], "msgid": "Good news! {title}", '
                '"values": {"title": "Tiny shift", "when": "jue 10 dic"}, "rendered": "curated"}',
     FamilyMessage("Good news!", "es", signup=SignupText("signup_promoted", (Choice("Rechazar", "volunteer:decline:7"),),
                                                         "Good news! {title}",
                                                         {"title": "Tiny shift", "when": "jue 10 dic"}, "curated"))),
    ("ticket_new", "{}", TicketNew()),
    ("ticket_thread", '{"text": "¿Dónde está el bus?", "language": "es", "translation": "Where is the bus?"}',
     TicketThread("¿Dónde está el bus?", "es", "Where is the bus?")),
    ("ticket_thread", '{"text": "the slip", "language": "en", "translation": null, "urgent": true, "media": '
                      '{"kind": "photo", "ref": "AgAD", "filename": null, "mime_type": "image/jpeg", "size": 1234, '
                      '"description": "", "channel": "telegram"}}',
     TicketThread("the slip", "en", None, True, Media("photo", "AgAD", None, "image/jpeg", 1234), "telegram")),
    ("ticket_update", '{"status": "claimed", "by": "sam"}', TicketUpdate(status="claimed", by="sam")),
    ("ticket_update", '{"priority": "urgent"}', TicketUpdate(priority="urgent")),
    ("ticket_context", '{"text": "Delivered to the family"}', TicketContext("Delivered to the family")),
    ("ticket_context", '{"text": "The family deleted their data (/forgetme).", "staff_ref": "C0TRIAGE:1700.1", '
                       '"closed": true}',
     TicketContext("The family deleted their data (/forgetme).", "C0TRIAGE:1700.1", closed=True)),
    ("ticket_reminder", '{"minutes": 30}', TicketReminder(30)),
    ("signups_alert", '{"text": "Within 24 hours: Ana signed up", "event": "booked", "booking_id": 4, '
                      '"family_id": 2, "kind": "volunteer", "id": "tiny", "title": "Tiny shift", "name": "Ana", '
                      '"language": "vi", "interpreter": null, "starts_at": "2026-12-08T15:00:00+00:00"}',
     SignupsAlert("Within 24 hours: Ana signed up", "booked", 4, 2, "volunteer", "tiny", "Tiny shift", "Ana", "vi",
                  None, "2026-12-08T15:00:00+00:00")),
    ("absence_notice", '{"text": "Absence reported: Bao", "absence_id": 3, "family_id": 2}',
     AbsenceNotice("Absence reported: Bao", 3, 2)),
    ("signups_digest", '{"text": "Sign-ups digest for 2026-12-07", "day": "2026-12-07", "since": '
                       '"2026-12-06T16:00:00+00:00", "sections": [{"kind": "conference", "id": "t1", "new": 2, '
                       '"cancelled": 1, "promoted": 0}]}',
     SignupsDigest("Sign-ups digest for 2026-12-07", "2026-12-07", "2026-12-06T16:00:00+00:00",
                   (DigestCount("conference", "t1", 2, 1, 0),))),
    ("email", '{"to": ["office@school.example"], "subject": "URGENT: ticket #5", "body": "Señora Pérez…", '
              '"tickets": [5], "what": "urgent", "urgent": true}',
     Email(("office@school.example",), "URGENT: ticket #5", "Señora Pérez…", (5,), "urgent", urgent=True)),
    ("email", '{"to": ["a@x.example", "b@x.example"], "subject": "Homeroom: ticket #5: the family deleted their '
              'data", "body": "b", "tickets": [], "what": "notice"}',
     Email(("a@x.example", "b@x.example"), "Homeroom: ticket #5: the family deleted their data", "b", what="notice")),
]


@pytest.mark.parametrize("kind,stored,message", STORED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(STORED)])
def test_a_row_of_the_previous_version_decodes_and_is_written_again_byte_for_byte(kind, stored, message):
    assert decode(kind, json.loads(stored)) == message
    assert message.KIND == kind
    assert json.dumps(message.to_payload(), ensure_ascii=False) == stored


def test_every_kind_has_a_stored_case():
    from bot.outbox_messages import KINDS

    assert set(KINDS) == {kind for kind, _, _ in STORED}


def test_family_messages_become_the_channels_outgoing_and_nothing_else_does():
    staff = decode("message", json.loads(STORED[3][1]))
    assert to_family(staff, "telegram", "42") == Outgoing("telegram", "42", "Xin chào", language="vi",
                                                          machine_translated=True)
    assert to_family(STORED[4][2], "telegram", "42").choices == (Choice("Rechazar", "volunteer:decline:7"),)
    with pytest.raises(TypeError):
        to_family(TicketNew(), "telegram", "42")


def test_a_report_back_says_why():
    assert REFUSED.because("Telegram refused it").message.text.startswith("Not delivered to the family: Telegram")
    assert DELIVERED.because("x") == DELIVERED


async def test_a_row_this_version_cannot_read_reaches_its_sender_and_holds_up_nothing(tmp_path):
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    async with Database(tmp_path / "h.sqlite3") as db:
        def write(conn):
            conn.execute("INSERT INTO outbox (channel, target, kind, payload, next_attempt_at, created_at)"
                         " VALUES ('x', 'a', 'from_the_future', '{}', ?, ?)", (now.isoformat(), now.isoformat()))
            conn.execute("INSERT INTO outbox (channel, target, kind, payload, next_attempt_at, created_at)"
                         " VALUES ('x', 'b', 'email', '{\"subject\": \"no address\"}', ?, ?)",
                         (now.isoformat(), now.isoformat()))
            outbox.add(conn, "x", "c", TicketReminder(5), now.isoformat())
        await db.transact(write)
        got = []

        async def sender(item):
            got.append(item.message)
        delivery = Delivery(db, clock=lambda: now)
        delivery.register("x", sender)
        assert await delivery.run_once() == 3
    assert got[0] == Unreadable("from_the_future", "ValueError: unknown outbox kind 'from_the_future'")
    assert isinstance(got[1], Unreadable) and "to" in got[1].error
    assert got[2] == TicketReminder(5)
