"""Volunteer and conference sign-ups: definitions staff edit (YAML, CSV import), the tables
they are synced into, atomic bookings with a waitlist, calendar files and reminders.

`Signups` ties them together for the app: it loads and syncs the definitions at start-up and
builds the three flows the engine runs (`volunteer`, `conference`, `mysignups`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from bot.config import SchoolProfile
from bot.core.localize import Localizer, Text
from bot.core.messages import utcnow
from bot.i18n import Locales
from bot.signups import booking, ics, store
from bot.signups.definitions import DefinitionError, Definitions, load_definitions
from bot.storage import Database

log = logging.getLogger("bot.signups")

__all__ = ["Signups", "DefinitionError", "Definitions", "load_definitions", "start_signups"]


def uid_domain(profile: SchoolProfile) -> str:
    """The domain of the calendar UIDs: the school's website, so they are unique worldwide."""
    return urlparse(str(profile.info.get("website", ""))).hostname or "homeroom.invalid"


class Signups:
    """The sign-up service the flows, the CLI and the reminder loop share."""

    def __init__(self, db: Database, profile: SchoolProfile, locales: Locales,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.profile, self.locales, self.clock = db, profile, locales, clock
        self.uid_domain = uid_domain(profile)
        self.organizer = ics.organizer(profile, self.uid_domain)
        self.notifier = booking.Notifier(locales, self.uid_domain, self.organizer)
        self.on_outbox: Callable[[], None] | None = None  # e.g. Delivery.wake: a message waits
        self.localizer: Localizer | None = None  # the engine's (bot.app.start), for `render`

    async def render(self, lang: str, *texts: Text) -> list[str]:
        """Texts a flow must hold as strings itself: a calendar file is made before its reply is
        localized, so the Localizer renders its words now, by the same rules as the reply (the
        file carries no "automatic translation" note; the reply beside it does when it needs one)."""
        localizer = self.localizer or Localizer(self.locales)
        return [rendered.text for rendered in await localizer.render_all(list(texts), lang)]

    async def cancel_file(self, lang: str, item: store.Item, booking: store.Booking, now: datetime):
        """The calendar file that takes a cancelled booking out of the family's calendar: METHOD:CANCEL,
        the booking's UID, its raised SEQUENCE (`bot.signups.ics`)."""
        from bot.flows.conference import SUMMARY
        from bot.signups import text as fmt

        summary = Text(SUMMARY, {"teacher": item.title}) if booking.kind == "conference" else fmt.staff(item.title)
        [rendered] = await self.render(lang, summary)
        content = ics.calendar(f"{booking.uid}@{self.uid_domain}", item.starts_at, item.ends_at, rendered, item.place,
                               "", now, sequence=booking.calendar_sequence, cancelled=True, organizer=self.organizer)
        return ics.attachment(f"{booking.kind}-{item.starts_at:%Y-%m-%d}-cancelled.ics", content)

    @property
    def tz(self):
        return self.profile.tz

    async def sync(self, defs: Definitions, now: datetime | None = None) -> store.SyncReport:
        """Make the tables match the definitions (one transaction); refusals are logged."""
        defs.check()
        stamp = store.iso(now or self.clock())
        report = await self.db.transact(
            lambda conn: store.sync(conn, defs, stamp,
                                    lambda c, shift_id, at: booking.promote(c, shift_id, at, self.notifier)))
        for refusal in report.refusals:
            log.warning("signups.sync_refused %s", refusal)
        if report.promoted:
            self.wake()
        log.info("signups.synced opportunities=%d teachers=%d added=%d updated=%d deactivated=%d refused=%d",
                 len(defs.opportunities), len(defs.teachers), report.added, report.updated, report.deactivated,
                 len(report.refusals))
        return report

    def wake(self) -> None:
        if self.on_outbox is not None:
            self.on_outbox()

    def flows(self) -> dict[str, object]:
        """The engine's flows, by the name `turn.state.flow` holds while each runs."""
        from bot.flows.conference import ConferenceFlow
        from bot.flows.mysignups import MySignupsFlow
        from bot.flows.volunteer import VolunteerFlow

        volunteer, conference = VolunteerFlow(self), ConferenceFlow(self)
        mine = MySignupsFlow(self, volunteer, conference)
        return {flow.name: flow for flow in (volunteer, conference, mine)}


async def start_signups(db: Database, profile: SchoolProfile, locales: Locales, directory: Path) -> Signups:
    """Load the definitions in `directory` (DefinitionError on problems) and sync them."""
    signups = Signups(db, profile, locales)
    defs = load_definitions(Path(directory), profile.timezone)
    if not Path(directory).is_dir():
        log.warning("signups.no_definitions dir=%s", directory)
    await signups.sync(defs)
    return signups
