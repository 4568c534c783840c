"""Assemble a running Homeroom from settings: profile, catalog, matcher, store, engine."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import SchoolProfile, Settings, load_school_profile
from bot.core.engine import Engine
from bot.i18n import Locales
from bot.storage import Database
from bot.understanding.catalog import Catalog, CatalogError, load_catalog
from bot.understanding.matcher import Matcher


@dataclass
class Homeroom:
    settings: Settings
    profile: SchoolProfile
    catalog: Catalog
    matcher: Matcher
    db: Database
    engine: Engine

    async def close(self) -> None:
        await self.db.close()


def load_understanding(settings: Settings) -> tuple[SchoolProfile, Catalog, Matcher]:
    """Profile, checked catalog and matcher; raises ConfigError / CatalogError with a clear report."""
    profile = load_school_profile(settings.school_profile_path)
    catalog = load_catalog(settings.intents_dir, profile.info)
    if catalog.errors:
        raise CatalogError(catalog)
    return profile, catalog, Matcher(catalog)


async def start(settings: Settings) -> Homeroom:
    profile, catalog, matcher = load_understanding(settings)
    db = await Database(settings.db_path).open()
    engine = Engine(db, catalog, matcher, profile, Locales(settings.locales_dir))
    return Homeroom(settings, profile, catalog, matcher, db, engine)
