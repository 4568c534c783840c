"""Assemble a running Homeroom from settings: profile, understanding (catalog, matcher), store, engine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot import dates
from bot.config import SchoolProfile, Settings, load_school_profile
from bot.core.engine import Engine
from bot.delivery import Delivery
from bot.handoff import Handoff
from bot.media import MediaFetchers
from bot.i18n import Locales
from bot.signups import start_signups
from bot.staff_alerts import StaffAlerts
from bot.storage import Database
from bot.understanding.catalog import Catalog, CatalogError, load_catalog
from bot.understanding.embedding_cache import progress_reporter
from bot.understanding.pipeline import build_understanding
from bot.understanding.snapshot import LiveUnderstanding, UnderstandingSnapshot

log = logging.getLogger(__name__)
_background: set = set()


@dataclass
class Homeroom:
    settings: Settings
    profile: SchoolProfile
    # catalog, matcher, detector, status: the engine shares this; `homeroom reload` replaces it
    understanding: LiveUnderstanding
    db: Database
    engine: Engine
    translator: object | None = None
    handoff: Handoff | None = None
    delivery: Delivery | None = None
    media: MediaFetchers = field(default_factory=MediaFetchers)  # parents' files, by channel
    alerts: StaffAlerts = field(default_factory=StaffAlerts)  # who an urgent ticket reaches
    calendar: object | None = None  # bot.calendar.answer.CalendarAnswers (`homeroom reload` re-reads it)

    def background_jobs(self) -> list[Callable[[asyncio.Event], Awaitable[None]]]:
        """What every runner keeps going beside its channels, each until `stop` is set."""
        jobs = [self.reminders, self.retention]
        if self.alerts.email is not None:
            jobs.append(self.alerts.email.run)  # urgent escalation and the daily digest by email
        return jobs

    async def retention(self, stop: asyncio.Event) -> None:
        """The school's retention policy, enforced daily (bot.privacy.retention)."""
        from bot.privacy.retention import retention_loop

        await retention_loop(self.db, self.profile.retention, stop)

    async def reminders(self, stop: asyncio.Event) -> None:
        """The day-before sign-up reminders, checked every few minutes until `stop` (production runners)."""
        from bot.signups.reminders import reminder_loop

        await reminder_loop(self.db, self.engine.localizer, stop, on_written=self.delivery.wake)

    async def close(self) -> None:
        self.understanding.current.matcher.close()
        await self.db.close()
        if self.translator is not None and hasattr(self.translator, "close"):
            self.translator.close()


def load_school(settings: Settings) -> tuple[SchoolProfile, Catalog]:
    """Profile and checked catalog; raises ConfigError / CatalogError with a clear report."""
    profile = load_school_profile(settings.school_profile_path)
    catalog = load_catalog(settings.intents_dir, profile.info)
    if catalog.errors:
        raise CatalogError(catalog)
    return profile, catalog


def load_understanding(settings: Settings) -> tuple[SchoolProfile, UnderstandingSnapshot]:
    """Profile and the understanding of its checked catalog; raises ConfigError / CatalogError
    with a clear report. The first build of a new catalog embeds and trains (a progress bar on a
    terminal, progress lines in the log); later starts load it from the cache."""
    profile, catalog = load_school(settings)
    return profile, build_understanding(catalog, profile, settings, progress_reporter("Learning the catalog"))


def argos_dir(settings: Settings) -> Path:
    return settings.data_dir / "argos"


async def machine_translator(settings: Settings, profile: SchoolProfile):
    """The offline translator when the `translate` extra and at least one model are installed;
    None otherwise (curated text only). Looks for models off the event loop."""
    if settings.translation == "off":
        return None
    from bot.translation.machine import ArgosTranslator

    packages = argos_dir(settings) / "packages"
    if not ArgosTranslator.available() or not packages.is_dir() or not any(packages.iterdir()):
        return None
    translator = ArgosTranslator(argos_dir(settings), glossary=profile.glossary)
    pairs = await asyncio.to_thread(translator.installed_pairs)
    log.info("translation.ready pairs=%s", ",".join(f"{a}-{b}" for a, b in pairs) or "-")
    return translator if pairs else None


async def start(settings: Settings, translator=None) -> Homeroom:
    profile, snapshot = await asyncio.to_thread(load_understanding, settings)
    understanding = LiveUnderstanding(snapshot)
    db = await Database(settings.db_path).open()
    if translator is None:
        translator = await machine_translator(settings, profile)
    locales = Locales(settings.locales_dir)
    dates.use_locales(settings.locales_dir)
    try:
        signups = await start_signups(db, profile, locales, settings.signups_dir)
    except BaseException:
        await db.close()
        raise
    from bot.calendar.answer import start_calendar
    from bot.flows.privacy import privacy_flows

    calendar = await start_calendar(db, profile, settings.data_dir)  # never fails start-up: logs why

    delivery = Delivery(db)
    alerts = staff_alerts(settings, profile, db, delivery, translator)
    from bot.absences.notice import Office
    from bot.flows.absence import absence_flows

    office = Office(slack=alerts.slack, email=profile.email if alerts.email is not None else None, school=profile.name)
    flows = {**signups.flows(), **privacy_flows(db, profile, signups.notifier, signups.wake, alerts),
             **absence_flows(db, profile, office, delivery.wake)}
    engine = Engine(db, understanding, profile, locales, translator=translator, flows=flows, alerts=alerts,
                    answers=calendar.hooks())
    signups.localizer = engine.localizer  # staff-written sign-up texts: curated, else machine translated
    # the first message should not pay for loading the language models
    _background.add(asyncio.get_running_loop().run_in_executor(None, snapshot.detector.warm))
    handoff = Handoff(db, engine.localizer, profile,
                      note_prefix=profile.slack.note_prefix if profile.slack else "note:")
    engine.on_outbox = delivery.wake
    signups.on_outbox = delivery.wake
    return Homeroom(settings, profile, understanding, db, engine, translator, handoff, delivery, alerts=alerts,
                    calendar=calendar)


def staff_alerts(settings: Settings, profile: SchoolProfile, db: Database, delivery: Delivery,
                 translator) -> StaffAlerts:
    """Which staff channels are configured; email's sender joins the outbox here, whatever runs
    the parents' side (Telegram or the terminal). With none, start-up says so: an urgent report
    would reach nobody at once, and the bot tells families to call instead."""
    slack = bool(settings.slack_bot_token and profile.slack)
    email = None
    if settings.smtp and profile.email:
        from bot.channels.email import EMAIL_CHANNEL, EmailAlerts, EmailSender, MailContext

        ctx = MailContext(school=profile.name, timezone=profile.tz, slack=slack,
                          translates=lambda lang: translator is not None and translator.can_translate("en", lang))
        email = EmailAlerts(db, profile.email, ctx, wake=delivery.wake)
        delivery.register(EMAIL_CHANNEL, EmailSender(settings.smtp, profile.email.sender, db))
    elif profile.email and not settings.smtp:
        log.warning("email.off reason='the school profile has [email] but HOMEROOM_SMTP_HOST is not set'")
    elif settings.smtp and not profile.email:
        log.warning("email.off reason='HOMEROOM_SMTP_HOST is set but the school profile has no [email] table'")
    alerts = StaffAlerts(slack=slack, email=email)
    if not alerts.reaches_someone:
        log.warning("staff.no_channel: neither Slack nor email is configured; urgent reports alert nobody at once "
                    "(families are told to call the office), and staff see tickets only with `homeroom tickets`")
    return alerts
