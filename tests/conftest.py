"""Shared fixtures: a settings object on a temporary data dir, a started Homeroom, its engine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bot.app import start
from bot.config import REPO_ROOT, Settings

FIXTURES = Path(__file__).parent / "fixtures"
# The understanding cache (embeddings, the trained classifier) for every test and every `python -m
# bot` the tests start: the sample catalog is embedded and trained once per machine (~6 min on
# 2 cores), not once per test or per clone. Its entries are keyed by model, text and a hash of
# the catalog and settings, so clones and branches share it safely, like pip's cache. Override
# with HOMEROOM_TEST_CACHE. A test that is about the cache names its own HOMEROOM_CACHE_DIR.
SHARED_CACHE = Path(os.environ.get("HOMEROOM_TEST_CACHE")
                    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "homeroom-tests")


@pytest.fixture(scope="session", autouse=True)
def shared_understanding_cache(tmp_path_factory):
    """Build the sample catalog's matcher once, first: later tests (and the `python -m bot` they
    start) load it from the shared cache instead of each embedding and training it again."""
    from bot.understanding.catalog import load_catalog
    from bot.understanding.embedding_cache import progress_reporter
    from bot.understanding.pipeline import build_matcher

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Settings, "understanding_cache",
                      property(lambda self: self.cache_dir or SHARED_CACHE))
        settings = Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path_factory.mktemp("warm"))})
        matcher, status = build_matcher(load_catalog(settings.intents_dir), settings,
                                        progress_reporter("tests: learning the sample catalog"))
        matcher.close()
        yield SHARED_CACHE


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data")})


@pytest.fixture
async def app(settings: Settings):
    homeroom = await start(settings)
    yield homeroom
    await homeroom.close()


@pytest.fixture
def engine(app):
    return app.engine


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for running `python -m bot` in a subprocess against a temporary data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOMEROOM_", "TELEGRAM_", "SLACK_"))}
    env.update({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8",
                "HOMEROOM_CACHE_DIR": str(SHARED_CACHE)}, **extra)
    return env


PYTHON = sys.executable
ROOT = REPO_ROOT
