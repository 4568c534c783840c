"""What a staff email says, written when the alert is queued (the outbox row holds the finished
mail, so it goes out even if the family later deletes its data): what was reported, in the
parent's words and in English, and how to answer. Plain text: it reads the same in every mail
client and carries nothing that runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.storage import families, tickets
from bot.understanding.language import ENGLISH_NAMES

WORDS_CHARS = 2000  # one message's text in a mail; the full timeline is in `homeroom tickets show`


@dataclass(frozen=True)
class MailContext:
    """What every mail needs to say besides the ticket."""

    school: str
    timezone: ZoneInfo
    slack: bool                                   # tickets are in Slack too: answer there or here
    translates: Callable[[str], bool]             # a staff reply can be machine translated into lang


def urgent_mail(conn: sqlite3.Connection, ticket_id: int, ctx: MailContext) -> tuple[str, str] | None:
    """(subject, body) for one urgent ticket; None when it no longer exists."""
    ticket = tickets.get(conn, ticket_id)
    if ticket is None:
        return None
    subject = f"URGENT: ticket #{ticket.id} ({ticket.topic}) from a family, {ctx.school}"
    lines = [f"An urgent report reached Homeroom, {ctx.school}'s family chat. Please act on it now.", ""]
    lines += _ticket_block(conn, ticket, ctx, everything=True)
    earlier = tickets.conversation_before(conn, ticket)
    if earlier:
        lines += ["", "Earlier in the conversation:"]
        for direction, text, english in earlier:
            said = _clip(text)
            if direction == "in" and english:
                said += f" (English: {_clip(english)})"
            lines.append(f"  {'Parent' if direction == 'in' else 'Bot'}: {said}")
    lines += ["", *_how_to_answer([ticket], ctx), "", _footer(ctx)]
    return subject, "\n".join(lines)


def follow_up_mail(conn: sqlite3.Connection, ticket_id: int, ctx: MailContext, text: str, language: str,
                   english: str | None) -> tuple[str, str] | None:
    """(subject, body) for a later message on an urgent ticket: staff acting on the first mail need
    what the family added ("he is home now", "it is getting worse"); None when the ticket is gone."""
    ticket = tickets.get(conn, ticket_id)
    if ticket is None:
        return None
    subject = f"URGENT ticket #{ticket.id} ({ticket.topic}): the family wrote again, {ctx.school}"
    name = ENGLISH_NAMES.get(language, language)
    lines = [f"The family on urgent ticket #{ticket.id} wrote again ({name}):", _quote(text)]
    if language != "en":
        lines += ["In English (machine translation):", _quote(english)] if english else \
            ["No English translation: no model for this language is installed. An interpreter is needed."]
    lines += ["", *_how_to_answer([ticket], ctx), "", _footer(ctx)]
    return subject, "\n".join(lines)


def digest_mail(conn: sqlite3.Connection, ticket_ids: list[int], ctx: MailContext, day: str) -> tuple[str, str] | None:
    """(subject, body) for the day's digest of tickets nobody answered yet; None if none is left."""
    found = [t for t in (tickets.get(conn, i) for i in ticket_ids) if t is not None]
    if not found:
        return None
    count = f"{len(found)} ticket{'s' if len(found) != 1 else ''}"
    subject = f"Homeroom: {count} waiting for a reply, {ctx.school} ({day})"
    lines = [f"{count} from families {'are' if len(found) != 1 else 'is'} waiting for a reply from staff.", ""]
    for ticket in found:
        lines += _ticket_block(conn, ticket, ctx, everything=False) + [""]
    lines += [*_how_to_answer(found, ctx), "", _footer(ctx)]
    return subject, "\n".join(lines)


def _ticket_block(conn: sqlite3.Connection, ticket: tickets.Ticket, ctx: MailContext, everything: bool) -> list[str]:
    family = families.get(conn, ticket.family_id)
    name = (family.display_name if family else None) or "(no name)"
    language = f"{ENGLISH_NAMES.get(ticket.language, ticket.language)} ({ticket.language})"
    opened = datetime.fromisoformat(ticket.created_at).astimezone(ctx.timezone).strftime("%Y-%m-%d %H:%M %Z")
    lines = [f"Ticket #{ticket.id} · {ticket.priority} · topic: {ticket.topic} · opened {opened}",
             f"Family: {name} · language: {language}"
             + (f" · needs interpreter: {ticket.interpreter}" if ticket.interpreter else ""),
             f"What the bot understood: {ticket.intent or 'nothing specific'}"]
    said = [e for e in tickets.events(conn, ticket.id) if e[0] == "parent"]
    for index, (_kind, _author, text, lang, english, at) in enumerate(said if everything else said[:1]):
        when = datetime.fromisoformat(at).astimezone(ctx.timezone).strftime("%H:%M")
        label = "The parent wrote" if index == 0 else f"Then, at {when}"
        lines += ["", f"{label} ({ENGLISH_NAMES.get(lang or ticket.language, lang or ticket.language)}):",
                  _quote(text)]
        if (lang or ticket.language) != "en":
            lines += ["In English (machine translation):", _quote(english)] if english else \
                ["No English translation: no model for this language is installed. An interpreter is needed."]
    if not everything and len(said) > 1:
        lines.append(f"(and {len(said) - 1} later message(s): see `homeroom tickets show {ticket.id}`)")
    return lines


def _how_to_answer(found: list[tickets.Ticket], ctx: MailContext) -> list[str]:
    first = found[0].id
    lines = ["How to answer (the family does not see replies to this email):"]
    if ctx.slack:
        lines.append("- in Slack: reply in the ticket's thread in the triage channel, or")
    lines += [f"- on the Homeroom server: `homeroom tickets show {first}`, then "
              f"`homeroom tickets reply {first} \"your words\"`"]
    untranslated = sorted({ENGLISH_NAMES.get(t.language, t.language) for t in found
                           if t.language != "en" and not ctx.translates(t.language)})
    translated = sorted({ENGLISH_NAMES.get(t.language, t.language) for t in found
                         if t.language != "en" and ctx.translates(t.language)})
    if translated:
        lines.append(f"Replies are machine translated into {', '.join(translated)} before they reach the family.")
    if untranslated:
        lines.append(f"No translation model is installed for {', '.join(untranslated)}: a reply reaches the "
                     "family in English, with a note in their language saying so. Arrange an interpreter.")
    return lines


def _footer(ctx: MailContext) -> str:
    return f"Sent by Homeroom for {ctx.school}. Keep this email private: it holds a family's words."


def _quote(text: str | None) -> str:
    body = (text or "(no text)").strip()
    if len(body) > WORDS_CHARS:
        body = body[:WORDS_CHARS] + " […]"
    return "\n".join("  > " + line for line in body.splitlines() or [""])


def _clip(text: str, limit: int = 300) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[:limit] + " […]"
