"""Tickets from the staff side, for any staff tool (Slack, the terminal CLI): view, claim,
resolve, reopen, reply, internal notes. Channel-neutral, like the engine.

A staff reply is translated into the family's language and written, in one transaction, as
the ticket's event, an outbox message to the family, an outbox context line for staff (what
the family received and its back-translation) and an audit entry. An external event id makes
a redelivered reply a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import SchoolProfile
from bot.core.localize import Localizer, Text
from bot.core.messages import utcnow
from bot.i18n import N_
from bot.storage import Database, audit, conversations, families, outbox, tickets
from bot.understanding.language import ENGLISH_NAMES

log = logging.getLogger(__name__)

STAFF_CHANNEL = "staff"
AUTO_RESUMED_TEXT = N_("Nobody from the school staff has written here for a while, so I'm back to answer your "
                       "questions. Your messages stay with the staff; if you still need a person, send /human.")
REACHED_STAFF_LATE_TEXT = N_("Your message has now reached the school staff (it was delayed on our side). "
                             "A person will reply here.")
LATE_NOTICE_SECONDS = 60  # sooner than this, "I've passed your message" was already true enough
RESOLVED_TEXT = N_("The school staff marked your question as answered. If you need anything else, just write "
                   "here: I can answer common questions, or bring a person back in.")


class TicketError(ValueError):
    """The ticket does not exist or cannot do that now; the message says why."""


@dataclass(frozen=True)
class ReplyOutcome:
    relayed: bool
    duplicate: bool = False
    internal: bool = False
    text_sent: str | None = None
    back_translation: str | None = None


def staff_target(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


class Handoff:
    def __init__(self, db: Database, localizer: Localizer, profile: SchoolProfile,
                 clock: Callable[[], datetime] = utcnow, note_prefix: str = "note:") -> None:
        self.db, self.localizer, self.profile, self.clock = db, localizer, profile, clock
        self.note_prefix = note_prefix.lower()

    async def list_open(self) -> list[tickets.Ticket]:
        return await self.db.run(tickets.list_open)

    async def show(self, ticket_id: int, staff: str) -> tuple[tickets.Ticket, list[tuple]]:
        def work(conn, now):
            ticket = tickets.get(conn, ticket_id)
            if ticket is None:
                raise TicketError(f"ticket {ticket_id} does not exist")
            audit.record(conn, staff, "view", f"ticket {ticket_id}", now)
            return ticket, tickets.events(conn, ticket_id)
        return await self.db.transact(work, self._now())

    async def claim(self, ticket_id: int, staff: str) -> tickets.Ticket:
        return await self._status(ticket_id, staff, "claimed", allowed=("open", "claimed"))

    async def resolve(self, ticket_id: int, staff: str, family_text: str = RESOLVED_TEXT) -> tickets.Ticket:
        """Close the ticket; the family is told, in its language, with `family_text` (a msgid)."""
        return await self._status(ticket_id, staff, "resolved", allowed=("open", "claimed"), family_text=family_text)

    async def reopen(self, ticket_id: int, staff: str) -> tickets.Ticket:
        return await self._status(ticket_id, staff, "open", allowed=("resolved",))

    async def _status(self, ticket_id: int, staff: str, status: str, allowed: tuple[str, ...],
                      family_text: str = RESOLVED_TEXT) -> tickets.Ticket:
        def work(conn, now):
            ticket = tickets.get(conn, ticket_id)
            if ticket is None:
                raise TicketError(f"ticket {ticket_id} does not exist")
            if ticket.status not in allowed:
                raise TicketError(f"ticket {ticket_id} is {ticket.status}; cannot make it {status}")
            tickets.set_status(conn, ticket_id, status, staff, now)
            tickets.add_event(conn, ticket_id, status, staff, f"{status} by {staff}", now)
            audit.record(conn, staff, status, f"ticket {ticket_id}", now)
            outbox.add(conn, STAFF_CHANNEL, staff_target(ticket_id), "ticket_update", {"status": status,
                       "by": staff}, now, ticket_id=ticket_id)
            family = families.get(conn, ticket.family_id)
            if family is not None:
                state = conversations.load(conn, family.id)
                if status == "resolved":
                    state.data.pop("ticket", None)
                    state.data.pop("ticket_acked", None)
                elif status == "open":
                    state.data["ticket"] = ticket_id
                conversations.save(conn, state, now)  # also invalidates the engine's cached copy
                if status == "resolved":
                    return tickets.get(conn, ticket_id), family
            return tickets.get(conn, ticket_id), None

        ticket, family = await self.db.transact(work, self._now())
        if family is not None:  # tell the family, in its language, that the bot is back
            await self._tell_family(family, ticket, family_text)
        return ticket

    async def _tell_family(self, family: families.Family, ticket: tickets.Ticket, msgid: str) -> None:
        """A notice from the bot about the family's ticket, in its language, through the outbox."""
        text = (await self.localizer.render(Text(msgid), ticket.language)).text
        await self.db.transact(lambda conn, now: outbox.add(
            conn, family.channel, family.chat_id, "message", {"text": text, "language": ticket.language,
                                                              "from": "bot"}, now, ticket_id=ticket.id),
            self._now())

    async def reached_staff(self, ticket: tickets.Ticket) -> bool:
        """The ticket is in the staff tool now. If that took long (the tool was down), the family
        is told: they were promised a person, and silence would look like being ignored."""
        created = datetime.fromisoformat(ticket.created_at)
        if (self.clock() - created).total_seconds() <= LATE_NOTICE_SECONDS:
            return False
        family = await self.db.run(families.get, ticket.family_id)
        if family is None:
            return False
        await self._tell_family(family, ticket, REACHED_STAFF_LATE_TEXT)
        return True

    async def reply(self, ticket_id: int, staff: str, text: str, event_id: str | None = None,
                    source: str = "staff") -> ReplyOutcome:
        """Relay a staff message to the family (translated), or keep it internal (`note:`)."""
        text = text.strip()
        if not text:
            raise TicketError("empty reply")
        ticket = await self.db.run(tickets.get, ticket_id)
        if ticket is None:
            raise TicketError(f"ticket {ticket_id} does not exist")
        internal = text.lower().startswith(self.note_prefix)
        lang = ticket.language
        sent = back = None
        machine = False
        if not internal:
            rendered = await self.localizer.render(Text(text, kind="free"), lang)
            sent, machine = rendered.text, rendered.source == "machine"
            if machine and self.localizer.can_machine_translate(lang, "en"):
                back_result = await self.localizer.translator.translate(sent, lang, "en")
                back = back_result.text if back_result.ok else None
            if machine:
                sent += "\n\n" + (await self.localizer.render(Text(N_("(Automatic translation)")), lang)).text

        def work(conn, now):
            if event_id and not audit.first_time(conn, source, event_id, now):
                return ReplyOutcome(relayed=False, duplicate=True)
            current = tickets.get(conn, ticket_id)
            if current is None:
                raise TicketError(f"ticket {ticket_id} does not exist")
            audit.record(conn, staff, "note" if internal else "reply", f"ticket {ticket_id}", now)
            if internal:
                tickets.add_event(conn, ticket_id, "note", staff, text, now)
                return ReplyOutcome(relayed=False, internal=True)
            tickets.add_event(conn, ticket_id, "staff", staff, text, now, language=lang,
                              translation=sent if lang != "en" else None)
            tickets.first_response(conn, ticket_id, now)
            if current.status == "open":
                tickets.set_status(conn, ticket_id, "claimed", staff, now)
            family = families.get(conn, current.family_id)
            if family is None:
                raise TicketError(f"ticket {ticket_id}: the family's data was deleted")
            outbox.add(conn, family.channel, family.chat_id, "message",
                       {"text": sent, "language": lang, "machine": machine, "from": "staff"}, now,
                       ticket_id=ticket_id)
            name = ENGLISH_NAMES.get(lang, lang)
            context = (f"Delivered to the family in {name}" + (" (automatic translation)" if machine else "")
                       + (f". Back-translation: {back}" if back else ""))
            outbox.add(conn, STAFF_CHANNEL, staff_target(ticket_id), "ticket_context", {"text": context},
                       now, ticket_id=ticket_id)
            return ReplyOutcome(relayed=True, text_sent=sent, back_translation=back)

        return await self.db.transact(work, self._now())

    def _now(self) -> str:
        return self.clock().isoformat()
