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
from dataclasses import dataclass, replace
from datetime import datetime

from bot.config import SchoolProfile
from bot.core.localize import Localizer, Text
from bot.core.messages import utcnow
from bot.i18n import N_
from bot.outbox_messages import FamilyMessage, FollowUp, TicketContext, TicketUpdate
from bot.storage import Database, audit, conversations, families, kept_reports, outbox, tickets
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
CLOSED_UNANSWERED_TEXT = N_("The school staff closed your conversation without writing a reply. If you still "
                            "need help, write here: I can answer common questions, or send /human to reach a "
                            "person again.")
# after a staff reply that no model could translate (the reply itself follows in English)
ENGLISH_REPLY_NOTE = N_("This reply from the school staff is in English: there is no translation into your "
                        "language here yet. To ask for an interpreter, write “interpreter” here (the staff "
                        "will see it), or call the office at {office_phone}.")
# Staff-facing (English): the family's app refused the reply for good; bot.delivery fills {reason}.
UNDELIVERED_TEXT = ("Not delivered to the family: {reason}. They may have blocked the bot or deleted the "
                    "chat; please reach them another way (phone, email).")
UNTRANSLATED_EVENT = "untranslated"  # a ticket event: a staff reply went out in English only


class TicketError(ValueError):
    """The ticket does not exist or cannot do that now; the message says why."""


@dataclass(frozen=True)
class ReplyOutcome:
    relayed: bool
    duplicate: bool = False
    internal: bool = False
    text_sent: str | None = None
    back_translation: str | None = None
    untranslated: bool = False  # the family gets English (no model for its language)
    staff_note: str = ""        # what staff are told at once: what the family will get

def reply_promise(language: str, translates: bool) -> str:
    """What a staff reply becomes for a family reading `language` (for the ticket card and mails)."""
    name = ENGLISH_NAMES.get(language, language)
    if language == "en":
        return "your reply is sent to the family as you write it"
    if translates:
        return f"your reply is machine translated into {name} and sent to the family"
    return (f"the family reads {name} and no translation model for it is installed: your reply reaches them in "
            f"English, with a note in {name} saying so (arrange an interpreter)")


def staff_target(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


class Handoff:
    def __init__(self, db: Database, localizer: Localizer, profile: SchoolProfile,
                 clock: Callable[[], datetime] = utcnow, note_prefix: str = "note:") -> None:
        self.db, self.localizer, self.profile, self.clock = db, localizer, profile, clock
        self.note_prefix = note_prefix.lower()

    async def list_open(self) -> list[tickets.Ticket]:
        return await self.db.run(tickets.list_open)

    async def list_kept(self) -> list[kept_reports.KeptReport]:
        """Urgent reports kept after their family deleted its data, until staff close them."""
        return await self.db.run(kept_reports.list_all)

    async def close_kept(self, ticket_id: int, staff: str) -> None:
        """Close (delete) a kept urgent report: the school has acted on it."""
        def work(conn, now):
            if not kept_reports.close(conn, ticket_id):
                raise TicketError(f"ticket {ticket_id} does not exist")
            audit.record(conn, staff, "urgent_report.closed", f"ticket {ticket_id}", now)
        await self.db.transact(work, self._now())

    async def show(self, ticket_id: int, staff: str) -> tuple[tickets.Ticket, list[tuple]]:
        ticket, events, _, _ = await self.view(ticket_id, staff)
        return ticket, events

    async def view(self, ticket_id: int, staff: str) -> tuple[tickets.Ticket, list[tuple], str | None, list[tuple]]:
        """The ticket, its timeline, the family's name and the conversation before it (logged)."""
        def work(conn, now):
            ticket = tickets.get(conn, ticket_id)
            if ticket is None:
                raise TicketError(f"ticket {ticket_id} does not exist")
            audit.record(conn, staff, "view", f"ticket {ticket_id}", now)
            family = families.get(conn, ticket.family_id)
            return (ticket, tickets.events(conn, ticket_id), family.display_name if family else None,
                    tickets.conversation_before(conn, ticket))
        return await self.db.transact(work, self._now())

    async def claim(self, ticket_id: int, staff: str) -> tickets.Ticket:
        return await self._status(ticket_id, staff, "claimed", allowed=("open", "claimed"))

    async def resolve(self, ticket_id: int, staff: str, family_text: str | None = None) -> tickets.Ticket:
        """Close the ticket; the family is told, in its language, with `family_text` (a msgid),
        by default what happened: answered, or closed without a staff reply."""
        return await self._status(ticket_id, staff, "resolved", allowed=("open", "claimed"), family_text=family_text)

    async def reopen(self, ticket_id: int, staff: str) -> tickets.Ticket:
        return await self._status(ticket_id, staff, "open", allowed=("resolved",))

    async def _status(self, ticket_id: int, staff: str, status: str, allowed: tuple[str, ...],
                      family_text: str | None = None) -> tickets.Ticket:
        def work(conn, now):
            ticket = tickets.get(conn, ticket_id)
            if ticket is None:
                raise TicketError(f"ticket {ticket_id} does not exist")
            if ticket.status not in allowed:
                raise TicketError(f"ticket {ticket_id} is {ticket.status}; cannot make it {status}")
            tickets.set_status(conn, ticket_id, status, staff, now)
            tickets.add_event(conn, ticket_id, status, staff, f"{status} by {staff}", now)
            audit.record(conn, staff, status, f"ticket {ticket_id}", now)
            outbox.add(conn, STAFF_CHANNEL, staff_target(ticket_id), TicketUpdate(status=status, by=staff), now,
                       ticket_id=ticket_id)
            family = families.get(conn, ticket.family_id)
            if family is not None:
                state = conversations.load(conn, family.id)
                if status == "resolved":
                    state.drop(conversations.HANDOFF)
                elif status == "open":
                    state.space(conversations.HANDOFF)["ticket"] = ticket_id
                conversations.save(conn, state, now)  # also invalidates the engine's cached copy
                if status == "resolved":
                    return tickets.get(conn, ticket_id), family
            return tickets.get(conn, ticket_id), None

        ticket, family = await self.db.transact(work, self._now())
        if family is not None:  # tell the family, in its language, that the bot is back
            text = family_text or (RESOLVED_TEXT if ticket.first_response_at else CLOSED_UNANSWERED_TEXT)
            await self._tell_family(family, ticket, text)
        return ticket

    async def _tell_family(self, family: families.Family, ticket: tickets.Ticket, msgid: str) -> None:
        """A notice from the bot about the family's ticket, in its language, through the outbox."""
        text = (await self.localizer.render(Text(msgid), ticket.language)).text
        await self.db.transact(lambda conn, now: outbox.add(
            conn, family.channel, family.chat_id, FamilyMessage(text, ticket.language), now, ticket_id=ticket.id),
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
        machine = untranslated = False
        if not internal:
            rendered = await self.localizer.render(Text(text, kind="free"), lang)
            sent, machine = rendered.text, rendered.source == "machine"
            untranslated = rendered.source == "english" and lang != "en"  # not curated, not machine
            if machine and self.localizer.can_machine_translate(lang, "en"):
                back_result = await self.localizer.translator.translate(sent, lang, "en")
                back = back_result.text if back_result.ok else None
            if machine:
                sent = await self.localizer.marked(rendered, lang)
            elif untranslated:  # curated (or, failing that, English): the family must know why
                note = await self.localizer.render(Text(ENGLISH_REPLY_NOTE, self.profile.info), lang)
                sent += "\n\n" + note.text
        name = ENGLISH_NAMES.get(lang, lang)
        if internal:
            staff_note = "Internal note saved: the family does not see it."
        elif untranslated:
            staff_note = (f"No translation model for {name} is installed: the family will get your words in "
                          f"English, with a note in {name} that it is in English and how to ask for an "
                          "interpreter. The ticket is flagged 'needs interpreter'.")
        elif machine:
            staff_note = (f"Queued for the family in {name} (automatic translation)"
                          + (f". Back-translation: {back}" if back else "") + ".")
        else:
            staff_note = "Queued for the family."

        def work(conn, now):
            if event_id and not audit.first_time(conn, source, event_id, now):
                return ReplyOutcome(relayed=False, duplicate=True)
            current = tickets.get(conn, ticket_id)
            if current is None:
                raise TicketError(f"ticket {ticket_id} does not exist")
            audit.record(conn, staff, "note" if internal else "reply", f"ticket {ticket_id}", now)
            if internal:
                tickets.add_event(conn, ticket_id, "note", staff, text, now)
                return ReplyOutcome(relayed=False, internal=True, staff_note=staff_note)
            tickets.add_event(conn, ticket_id, "staff", staff, text, now, language=lang,
                              translation=sent if lang != "en" else None)
            if untranslated:
                tickets.add_event(conn, ticket_id, UNTRANSLATED_EVENT, "homeroom",
                                  f"reply sent in English: no translation model for {name}", now)
                if not current.interpreter:
                    tickets.set_interpreter(conn, ticket_id, name)
            tickets.first_response(conn, ticket_id, now)
            if current.status == "open":
                tickets.set_status(conn, ticket_id, "claimed", staff, now)
            family = families.get(conn, current.family_id)
            if family is None:
                raise TicketError(f"ticket {ticket_id}: the family's data was deleted")
            if untranslated:
                delivered = f"Delivered to the family in English (no translation model for {name}; a note in {name} said so)"
            else:
                delivered = (f"Delivered to the family in {name}" + (" (automatic translation)" if machine else "")
                             + (f". Back-translation: {back}" if back else ""))
            # the staff line is written only once the family's message is delivered (bot.delivery)
            then = FollowUp(STAFF_CHANNEL, staff_target(ticket_id), TicketContext(delivered), ticket_id)
            refused = replace(then, message=TicketContext(UNDELIVERED_TEXT))  # {reason}: filled in by bot.delivery
            outbox.add(conn, family.channel, family.chat_id,
                       FamilyMessage(sent, lang, "staff", machine, then=then, if_undeliverable=refused), now,
                       ticket_id=ticket_id)
            return ReplyOutcome(relayed=True, text_sent=sent, back_translation=back, untranslated=untranslated,
                                staff_note=staff_note)

        return await self.db.transact(work, self._now())

    def _now(self) -> str:
        return self.clock().isoformat()
