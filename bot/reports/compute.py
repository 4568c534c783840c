"""The community report's numbers, computed from the database for one period. Pure: reads only.

What each number means (the definitions a principal can quote):

- **messages / families**: every message families sent in the period (button taps included),
  and how many different families sent them.
- **questions**: incoming messages the bot placed on a catalog intent (`messages.intent`), except
  conversation that is not a question (hello, thanks, change language). Messages it could not
  place, flow steps and words for staff on an open ticket are not questions.
- **handed off**: a question whose turn opened a ticket (a ticket of the same family created at the
  same instant: the engine writes both in one transaction with one time stamp), or whose intent
  hands off by definition (`talk_to_human`, `action: {handoff: …}`; e.g. added to an open ticket).
  **answered by the bot**: every other question (an answer, or a sign-up flow started).
  So `answered_by_bot + handed_off == questions`, per topic and overall.
- **topic**: `catalog[intent].topic`; an intent no longer in the catalog counts as "other".
- **language**: the family's language when it asked (`messages.language`).
- **families by language**: the families who wrote in the period, by the language they have now
  (`families.language`): a family whose language was settled after a first message or two
  counts once, in its own language.
- **tickets**: tickets created in the period; **first staff response**: the median of
  `first_response_at - created_at` over those with a response (wall-clock minutes, nights and
  weekends included), however late the response came. **replies in English only**: staff replies
  in the period that no model could translate into the family's language (an interpreter is needed).
- **sign-ups** and **conferences**: bookings as they stand when the report runs, for active shifts
  and conference slots that end after the period starts (the period's events and upcoming ones);
  `new_in_period` counts the bookings made in the period that are still active. A conference
  needs an interpreter by the same rule as everywhere else (`store.Item.needs_interpreter`).

Times in the database are UTC ISO strings; the period is compared in UTC, as `today_stats` does.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from bot.understanding.catalog import Catalog

UTC = timezone.utc
# Conversation intents that are not questions a family asked.
NOT_QUESTIONS = frozenset({"greeting", "thanks", "change_language"})
HUMAN_INTENT = "talk_to_human"
OTHER_TOPIC = "other"


@dataclass(frozen=True)
class TopicCount:
    topic: str
    questions: int
    answered_by_bot: int
    handed_off: int


@dataclass(frozen=True)
class LanguageCount:
    language: str  # code, e.g. "es"; "?" when unknown
    questions: int


@dataclass(frozen=True)
class OpportunityFill:
    id: str
    title: str
    shifts: int
    capacity: int
    confirmed: int
    waitlisted: int
    new_in_period: int

    @property
    def open_spots(self) -> int:
        return max(0, self.capacity - self.confirmed)


@dataclass(frozen=True)
class Conferences:
    booked: int = 0
    need_interpreter: int = 0
    interpreter_languages: tuple[LanguageCount, ...] = ()
    new_in_period: int = 0


@dataclass(frozen=True)
class Report:
    start: datetime             # inclusive, aware (in the school's time zone when made by the CLI)
    end: datetime               # exclusive
    school: str = ""
    messages: int = 0
    families: int = 0
    questions: int = 0
    answered_by_bot: int = 0
    handed_off: int = 0
    by_topic: tuple[TopicCount, ...] = ()
    by_language: tuple[LanguageCount, ...] = ()
    families_by_language: tuple[LanguageCount, ...] = ()  # `questions` holds the number of families
    tickets: int = 0
    tickets_urgent: int = 0
    tickets_responded: int = 0
    median_first_response_minutes: float | None = None
    replies_untranslated: int = 0
    signups: tuple[OpportunityFill, ...] = ()
    conferences: Conferences = field(default_factory=Conferences)

    @property
    def bot_share(self) -> float | None:
        """Share of questions the bot answered itself (0..1), None without questions."""
        return self.answered_by_bot / self.questions if self.questions else None


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("report periods need time-zone-aware datetimes")
    return moment.astimezone(UTC).isoformat()


def _ranked(counts: Counter[str]) -> tuple[LanguageCount, ...]:
    return tuple(LanguageCount(code, n) for code, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])))


def _ticket_intents(catalog: Catalog) -> set[str]:
    return {i.id for i in catalog.intents.values() if i.handoff} | {HUMAN_INTENT}


def compute(conn: sqlite3.Connection, catalog: Catalog, start: datetime, end: datetime,
            school: str = "") -> Report:
    """The report for `start` (inclusive) to `end` (exclusive), both aware datetimes."""
    if end <= start:
        raise ValueError("the report period must end after it starts")
    lo, hi = _stamp(start), _stamp(end)
    messages, families = conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT family_id) FROM messages WHERE direction = 'in'"
        " AND created_at >= ? AND created_at < ?", (lo, hi)).fetchone()
    made = conn.execute("SELECT family_id, created_at, first_response_at, priority FROM tickets"
                        " WHERE created_at >= ? AND created_at < ?", (lo, hi)).fetchall()
    opened = {(row[0], row[1]) for row in made}
    handoff_intents = _ticket_intents(catalog)
    topics: dict[str, list[int]] = {}   # topic -> [questions, by bot, handed off]
    languages: Counter[str] = Counter()
    for family_id, created_at, intent, language in conn.execute(
            "SELECT family_id, created_at, intent, language FROM messages WHERE direction = 'in'"
            " AND intent IS NOT NULL AND created_at >= ? AND created_at < ?", (lo, hi)):
        if intent in NOT_QUESTIONS:
            continue
        topic = catalog[intent].topic if intent in catalog else OTHER_TOPIC
        handed = (family_id, created_at) in opened or intent in handoff_intents
        counts = topics.setdefault(topic, [0, 0, 0])
        counts[0] += 1
        counts[2 if handed else 1] += 1
        languages[language or "?"] += 1
    family_languages = Counter({code or "?": n for code, n in conn.execute(
        "SELECT f.language, COUNT(*) FROM families f WHERE f.id IN (SELECT family_id FROM messages"
        " WHERE direction = 'in' AND created_at >= ? AND created_at < ?) GROUP BY f.language", (lo, hi))})
    by_topic = tuple(sorted((TopicCount(t, *c) for t, c in topics.items()), key=lambda t: (-t.questions, t.topic)))
    waits = [(datetime.fromisoformat(first) - datetime.fromisoformat(created)).total_seconds() / 60
             for _, created, first, _ in made if first]
    signups, conferences = _signups(conn, start, end)
    untranslated = conn.execute("SELECT COUNT(*) FROM ticket_events WHERE kind = 'untranslated'"
                                " AND created_at >= ? AND created_at < ?", (lo, hi)).fetchone()[0]
    return Report(
        start=start, end=end, school=school, messages=int(messages), families=int(families),
        questions=sum(t.questions for t in by_topic),
        answered_by_bot=sum(t.answered_by_bot for t in by_topic),
        handed_off=sum(t.handed_off for t in by_topic),
        by_topic=by_topic,
        by_language=_ranked(languages),
        families_by_language=_ranked(family_languages),
        tickets=len(made), tickets_urgent=sum(1 for row in made if row[3] == "urgent"),
        tickets_responded=len(waits),
        median_first_response_minutes=statistics.median(waits) if waits else None,
        replies_untranslated=int(untranslated), signups=signups, conferences=conferences)


def _signups(conn: sqlite3.Connection, start: datetime,
             end: datetime) -> tuple[tuple[OpportunityFill, ...], Conferences]:
    from bot.signups import store  # the sign-up read model, with its interpreter rule

    items = store.roster(conn)  # active bookings (confirmed and waitlisted)

    def made_in_period(created_at: str) -> bool:
        return start <= datetime.fromisoformat(created_at) < end

    new_by_shift = Counter(i.booking.shift_id for i in items
                           if i.booking.kind == "volunteer" and made_in_period(i.booking.created_at))
    fills = []
    opportunities, _ = store.summary(conn)
    for opp, shifts in opportunities:
        current = [s for s in shifts if s.ends_at > start]
        if not current:
            continue
        fills.append(OpportunityFill(
            opp.id, opp.title, len(current), sum(s.capacity for s in current), sum(s.confirmed for s in current),
            sum(s.waitlisted for s in current), sum(new_by_shift[s.id] for s in current)))
    active_slots = {row[0] for row in conn.execute("SELECT id FROM conference_slots WHERE active = 1")}
    booked = [i for i in items if i.booking.kind == "conference" and i.ends_at > start
              and i.booking.slot_id in active_slots]
    interpreters = Counter(i.booking.language for i in booked if i.needs_interpreter)
    conferences = Conferences(
        booked=len(booked), need_interpreter=sum(interpreters.values()),
        interpreter_languages=tuple(LanguageCount(code, n)
                                    for code, n in sorted(interpreters.items(), key=lambda x: (-x[1], x[0]))),
        new_in_period=sum(1 for i in booked if made_in_period(i.booking.created_at)))
    return tuple(fills), conferences

