"""Is Homeroom healthy? A `Status` gathered from the store and the settings, green or red with
the reasons a person should act on. Read by `homeroom status` and by `GET /healthz`.

Red means "someone needs to look", each reason saying what and where:
- a channel the running bot serves is disconnected for more than CHANNEL_DOWN_GRACE
  (only known inside the bot: `ChannelHealth` is updated by the runners);
- a message has waited in the outbox longer than OUTBOX_MAX_AGE (families or staff are not
  hearing from us; the terminal chat's rows are exempt: they wait for the parent to come back);
- a message went dead (gave up after its retries) within DEAD_WINDOW and nobody acknowledged it;
- an urgent ticket is unclaimed for more than URGENT_UNCLAIMED_MAX — at once when no staff
  channel (Slack or email) is configured, since then nobody was alerted;
- nightly backups are on and the newest is older than BACKUP_MAX_AGE (or, with none yet, the
  database is older than that).
- the school profile names a calendar (`[calendar] source`) that did not load (date questions
  get the general answer meanwhile).
Only counts and ages are reported — never message text or who wrote it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.calendar.status import CalendarStatus
from bot.config import Settings
from bot.core.messages import utcnow
from bot.ops.backup import backup_dir, last_backup
from bot.understanding.language import ENGLISH_NAMES

OUTBOX_MAX_AGE = timedelta(minutes=15)
URGENT_UNCLAIMED_MAX = timedelta(minutes=30)
BACKUP_MAX_AGE = timedelta(hours=48)
CHANNEL_DOWN_GRACE = timedelta(minutes=2)   # a reconnect blip is not worth waking anyone
DEAD_WINDOW = timedelta(days=7)             # a dead outbox row keeps status red this long
WAITS_FOR_USER = frozenset({"terminal"})    # outbox channels delivered only when the user returns
TICKET_AGES = (("under 1 h", timedelta(hours=1)), ("1-24 h", timedelta(hours=24)),
               ("1-7 days", timedelta(days=7)), ("over 7 days", None))


@dataclass(frozen=True)
class ChannelState:
    connected: bool
    detail: str
    since: datetime  # when it last changed between connected and not


class ChannelHealth:
    """The running bot's channels, as its runners last reported them (in-process only)."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock
        self._states: dict[str, ChannelState] = {}
        self._probes: dict[str, Callable[[], tuple[bool, str]]] = {}

    def watch(self, name: str, probe: Callable[[], tuple[bool, str]]) -> None:
        """Ask `probe() -> (connected, detail)` at each snapshot, for channels that know their
        own state (the Slack sender's outage breaker) rather than report changes."""
        self._probes[name] = probe

    def set(self, name: str, connected: bool, detail: str = "") -> None:
        before = self._states.get(name)
        since = before.since if before is not None and before.connected == connected else self.clock()
        self._states[name] = ChannelState(connected, detail, since)

    def snapshot(self) -> dict[str, ChannelState]:
        for name, probe in self._probes.items():
            self.set(name, *probe())
        return dict(self._states)


@dataclass(frozen=True)
class Queue:
    pending: int
    oldest_age: float | None  # seconds the oldest pending row has waited


@dataclass
class Status:
    checked_at: datetime
    database: str
    schema_version: int
    channels: dict[str, ChannelState] | None     # None: unknown (read from another process)
    outbox: dict[str, Queue] = field(default_factory=dict)
    dead: dict[str, int] = field(default_factory=dict)          # per channel, within DEAD_WINDOW
    dead_total: int = 0
    tickets_open: int = 0
    tickets_claimed: int = 0
    tickets_by_age: dict[str, int] = field(default_factory=dict)
    urgent_unclaimed_age: float | None = None                   # seconds, oldest one
    staff_channels: tuple[str, ...] | None = None               # "slack", "email"; None: unknown
    replies_untranslated: int = 0                               # staff replies sent in English only, DEAD_WINDOW
    translation: list[str] | None = None                        # pairs "en->es"; None: see note
    translation_note: str = ""
    understanding: str = ""                                     # which matcher, and why when lexical
    backups_on: bool = False
    last_backup: datetime | None = None
    backup_dir: str = ""
    reasons: list[str] = field(default_factory=list)
    families_by_language: dict[str, int] = field(default_factory=dict)  # code ("?" unknown) -> families
    calendar: CalendarStatus | None = None                      # None: unknown (the profile cannot be read)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "green" if self.ok else "red",
            "reasons": self.reasons,
            "checked_at": self.checked_at.isoformat(),
            "database": {"path": self.database, "schema_version": self.schema_version},
            "channels": None if self.channels is None else {
                name: {"connected": s.connected, "detail": s.detail, "since": s.since.isoformat()}
                for name, s in sorted(self.channels.items())},
            "outbox": {name: {"pending": q.pending, "oldest_age_seconds": q.oldest_age}
                       for name, q in sorted(self.outbox.items())},
            "dead_outbox": {"recent": self.dead, "total": self.dead_total},
            "tickets": {"open": self.tickets_open, "claimed": self.tickets_claimed, "by_age": self.tickets_by_age,
                        "oldest_unclaimed_urgent_age_seconds": self.urgent_unclaimed_age,
                        "replies_sent_untranslated_last_7_days": self.replies_untranslated},
            "staff_channels": None if self.staff_channels is None else list(self.staff_channels),
            "translation": {"pairs": self.translation, "note": self.translation_note},
            "understanding": self.understanding,
            "families": {"by_language": self.families_by_language},
            "backups": {"on": self.backups_on, "dir": self.backup_dir,
                        "last": self.last_backup.isoformat() if self.last_backup else None},
            "calendar": self.calendar.as_json() if self.calendar is not None else None,
        }

    def render(self) -> str:
        """The readable report `homeroom status` prints."""
        head = "Homeroom status: GREEN" if self.ok else \
            f"Homeroom status: RED — {len(self.reasons)} thing(s) need a person"
        lines = [head, *(f"  ! {r}" for r in self.reasons), "",
                 f"database:     {self.database} (schema {self.schema_version})"]  # first: which data this is
        if self.channels is None:
            lines.append("channels:     unknown from this command (the running bot reports them at /healthz)")
        else:
            lines.append("channels:     " + (", ".join(
                f"{n} {'connected' if s.connected else 'DISCONNECTED'}{f' ({s.detail})' if s.detail else ''}"
                for n, s in sorted(self.channels.items())) or "none registered"))
        queues = [f"{n} {q.pending} waiting" + (f" (oldest {_ago(q.oldest_age)})" if q.oldest_age is not None else "")
                  for n, q in sorted(self.outbox.items())]
        lines.append("outbox:       " + (", ".join(queues) or "empty"))
        lines.append(f"dead outbox:  {sum(self.dead.values())} in the last {DEAD_WINDOW.days} days "
                     f"({self.dead_total} in all)")
        ages = ", ".join(f"{k} {v}" for k, v in self.tickets_by_age.items() if v) or "-"
        urgent = f"; oldest unclaimed urgent: {_ago(self.urgent_unclaimed_age)}" \
            if self.urgent_unclaimed_age is not None else ""
        lines.append(f"tickets:      {self.tickets_open} open, {self.tickets_claimed} claimed; by age: {ages}{urgent}")
        if self.replies_untranslated:
            lines.append(f"              {self.replies_untranslated} staff repl{'y' if self.replies_untranslated == 1 else 'ies'} "
                         f"sent in English only (no translation model) in the last {DEAD_WINDOW.days} days: "
                         "those families need an interpreter")
        if self.families_by_language:
            lines.append("families:     " + ", ".join(
                f"{ENGLISH_NAMES.get(code, 'unknown' if code == '?' else code)} {n}"
                for code, n in self.families_by_language.items()))
        if self.staff_channels is not None:
            lines.append("staff alerts: " + (", ".join(self.staff_channels) or
                                             "NONE (no Slack, no email): urgent reports alert nobody"))
        pairs = ", ".join(self.translation) if self.translation else "none"
        lines.append(f"translation:  {pairs}" + (f" ({self.translation_note})" if self.translation_note else ""))
        if self.understanding:
            lines.append(f"understanding: {self.understanding}")
        if self.calendar is not None:
            lines.append(f"calendar:     {self.calendar.line()}")
        if not self.backups_on:
            lines.append("backups:      nightly backups off (HOMEROOM_BACKUP_KEEP=0)")
        elif self.last_backup is None:
            lines.append(f"backups:      none yet in {self.backup_dir}")
        else:
            age = (self.checked_at - self.last_backup).total_seconds()
            lines.append(f"backups:      last {self.last_backup:%Y-%m-%d %H:%M} UTC ({_ago(age)} ago) "
                         f"in {self.backup_dir}")
        return "\n".join(lines)


StatusSource = Callable[[], Awaitable[Status]]


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _age(now: datetime, stamp: str | None) -> float | None:
    if not stamp:
        return None
    return (now - datetime.fromisoformat(stamp)).total_seconds()


def read_store(conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
    """Counts and ages from the store (runs on the database thread)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    out: dict[str, Any] = {"outbox": {}, "dead": {}, "dead_total": 0, "open": 0, "claimed": 0,
                           "by_age": {label: 0 for label, _ in TICKET_AGES}, "urgent_age": None,
                           "version": 0, "created": None}
    if "schema_version" in tables:
        out["version"], out["created"] = conn.execute(
            "SELECT COALESCE(MAX(version), 0), MIN(applied_at) FROM schema_version").fetchone()
    if "outbox" in tables:
        for channel, pending, oldest in conn.execute(
                "SELECT channel, COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending' GROUP BY channel"):
            out["outbox"][channel] = Queue(int(pending), _age(now, oldest))
        since = (now - DEAD_WINDOW).isoformat()
        for channel, recent, total in conn.execute(
                "SELECT channel, SUM(next_attempt_at >= ? AND acknowledged_at IS NULL), COUNT(*) FROM outbox"
                " WHERE status = 'dead' "
                "GROUP BY channel", (since,)):
            if recent:
                out["dead"][channel] = int(recent)
            out["dead_total"] += int(total)
    if "tickets" in tables:
        for status, priority, created in conn.execute(
                "SELECT status, priority, created_at FROM tickets WHERE status IN ('open', 'claimed')"):
            out["open" if status == "open" else "claimed"] += 1
            age = _age(now, created) or 0.0
            for label, limit in TICKET_AGES:
                if limit is None or age < limit.total_seconds():
                    out["by_age"][label] += 1
                    break
            if status == "open" and priority == "urgent" and (out["urgent_age"] is None or age > out["urgent_age"]):
                out["urgent_age"] = age
    out["families"] = {}
    if "families" in tables:  # by the language each family has now (settled by detection or chosen)
        out["families"] = {code or "?": int(n) for code, n in conn.execute(
            "SELECT language, COUNT(*) AS n FROM families GROUP BY language ORDER BY n DESC, language")}
    out["untranslated"] = 0
    if "ticket_events" in tables:
        out["untranslated"] = conn.execute("SELECT COUNT(*) FROM ticket_events WHERE kind = 'untranslated'"
                                           " AND created_at >= ?", ((now - DEAD_WINDOW).isoformat(),)).fetchone()[0]
    return out


def installed_pairs_on_disk(settings: Settings) -> list[str]:
    """Translation pairs installed under the data dir, from the packages' metadata (no model loads)."""
    packages = Path(settings.data_dir) / "argos" / "packages"
    pairs = set()
    if packages.is_dir():
        for meta in packages.glob("*/metadata.json"):
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if data.get("type", "translate") == "translate" and data.get("from_code") and data.get("to_code"):
                pairs.add(f"{data['from_code']}->{data['to_code']}")
    return sorted(pairs)


_NOT_GIVEN: Any = object()


def understanding_line(status: Any) -> str:
    """'semantic (model)' or 'lexical fallback: why' from an EncoderStatus."""
    if status.backend == "semantic":
        return f"semantic ({status.model})"
    return f"LEXICAL FALLBACK: {status.reason}; answers are less reliable (see README, 'Without the model')"


async def gather_status(db, settings: Settings, *, channels: ChannelHealth | None = None,
                        translator: Any = _NOT_GIVEN, now: datetime | None = None,
                        understanding: Any = None, staff_channels: tuple[str, ...] | None = None,
                        calendar: CalendarStatus | None = None) -> Status:
    """The status now. In the bot: pass its `ChannelHealth`, `homeroom.translator` and its
    calendar's status; from another process leave them out (channels unknown, translation pairs
    read from disk, the calendar read from its file or saved copy)."""
    now = now or utcnow()
    store = await db.run(read_store, now)
    status = Status(checked_at=now, database=str(Path(settings.db_path).absolute()),  # absolute: which data this is
                    schema_version=int(store["version"]),
                    channels=channels.snapshot() if channels is not None else None,
                    outbox=store["outbox"], dead=store["dead"], dead_total=store["dead_total"],
                    tickets_open=store["open"], tickets_claimed=store["claimed"], tickets_by_age=store["by_age"],
                    urgent_unclaimed_age=store["urgent_age"], backups_on=settings.backup_keep > 0,
                    replies_untranslated=int(store["untranslated"]), families_by_language=store["families"],
                    staff_channels=staff_channels if staff_channels is not None else _staff_channels(settings),
                    backup_dir=str(backup_dir(settings)))
    if settings.translation == "off":
        status.translation_note = "off (HOMEROOM_TRANSLATION=off)"
    elif translator is _NOT_GIVEN:
        status.translation = await asyncio.to_thread(installed_pairs_on_disk, settings)
        status.translation_note = ("pairs installed on disk; this command does not load them" if status.translation
                                   else "no models installed: curated text only")
    elif translator is None:
        status.translation_note = "no models loaded: curated text only"
    else:
        pairs = await asyncio.to_thread(translator.installed_pairs) if hasattr(translator, "installed_pairs") else []
        status.translation = [f"{a}->{b}" for a, b in pairs]
        status.translation_note = "loaded"
    if understanding is None:  # another process: what this machine would load (no model is loaded here)
        from bot.understanding.encoder import expected_status

        understanding = expected_status(settings.understanding)
    status.understanding = understanding_line(understanding)
    status.calendar = calendar if calendar is not None else await asyncio.to_thread(_calendar, settings)
    status.last_backup = await asyncio.to_thread(last_backup, backup_dir(settings))
    status.reasons = reasons(status, created=store["created"])
    return status


def reasons(status: Status, created: str | None = None) -> list[str]:
    """Why the status is red (empty: green); `created`: when the database was made."""
    now, found = status.checked_at, []
    for name, state in sorted((status.channels or {}).items()):
        if not state.connected and now - state.since >= CHANNEL_DOWN_GRACE:
            found.append(f"channel {name} disconnected for {_ago((now - state.since).total_seconds())}"
                         + (f": {state.detail}" if state.detail else ""))
    for name, queue in sorted(status.outbox.items()):
        if name not in WAITS_FOR_USER and queue.oldest_age is not None \
                and queue.oldest_age > OUTBOX_MAX_AGE.total_seconds():
            found.append(f"outbox: a {name} message has waited {_ago(queue.oldest_age)} "
                         f"(limit {int(OUTBOX_MAX_AGE.total_seconds() // 60)} min); {queue.pending} waiting")
    for name, count in sorted(status.dead.items()):
        found.append(f"outbox: {count} {name} message(s) could not be delivered and were given up "
                     f"(status 'dead') in the last {DEAD_WINDOW.days} days; see `homeroom outbox list --dead`, "
                     "fix the cause, then `homeroom outbox retry`, or accept the loss: `homeroom outbox ack`")
    if status.urgent_unclaimed_age is not None and status.staff_channels == ():
        found.append("tickets: an urgent ticket is open and no staff channel (Slack or email) is configured, so "
                     "nobody was alerted: see `homeroom tickets list`, call the family, and set up email "
                     "(README, 'Staff email')")
    elif status.urgent_unclaimed_age is not None and status.urgent_unclaimed_age > URGENT_UNCLAIMED_MAX.total_seconds():
        found.append(f"tickets: an urgent ticket has been unclaimed for {_ago(status.urgent_unclaimed_age)} "
                     f"(limit {int(URGENT_UNCLAIMED_MAX.total_seconds() // 60)} min)")
    if status.calendar is not None and status.calendar.failed:
        found.append(f"calendar: the school calendar ({status.calendar.source}) did not load: "
                     f"{status.calendar.detail}; date questions get the general answer until it does "
                     "(fix it, then `homeroom reload`)")
    if status.backups_on:
        since = status.last_backup or (datetime.fromisoformat(created) if created else None)
        if since is not None and now - since > BACKUP_MAX_AGE:
            what = f"the last one is {_ago((now - since).total_seconds())} old" if status.last_backup \
                else "none has been made"
            found.append(f"backups: no backup in {int(BACKUP_MAX_AGE.total_seconds() // 3600)} h ({what}; "
                         f"{status.backup_dir})")
    return found


def status_source(homeroom, channels: ChannelHealth | None = None,
                  clock: Callable[[], datetime] = utcnow) -> StatusSource:
    """What `/healthz` calls in the running bot."""
    async def source() -> Status:
        return await gather_status(homeroom.db, homeroom.settings, channels=channels,
                                   translator=homeroom.translator, now=clock(),
                                   understanding=homeroom.understanding.current.status,
                                   staff_channels=homeroom.alerts.channels,
                                   calendar=_running_calendar(homeroom))
    return source


def _staff_channels(settings: Settings) -> tuple[str, ...] | None:
    """From another process: the staff channels the settings and profile configure (None: the
    profile cannot be read, so unknown)."""
    from bot.config import ConfigError, load_school_profile
    from bot.staff_alerts import configured_channels

    try:
        profile = load_school_profile(settings.school_profile_path)
    except (ConfigError, OSError):
        return None
    return configured_channels(settings, profile)


def _running_calendar(homeroom) -> CalendarStatus | None:
    from bot.calendar.status import of_answers

    answers = getattr(homeroom, "calendar", None)
    return of_answers(answers) if answers is not None else None


def _calendar(settings: Settings) -> CalendarStatus | None:
    """From another process: the profile's calendar read as the bot reads it (None: the
    profile cannot be read, so unknown)."""
    from bot.calendar.status import read
    from bot.config import ConfigError, load_school_profile

    try:
        profile = load_school_profile(settings.school_profile_path)
    except (ConfigError, OSError):
        return None
    return read(profile, settings.data_dir)
