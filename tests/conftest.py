"""Shared fixtures: a settings object on a temporary data dir, a started Homeroom, its engine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bot.app import start
from bot.config import REPO_ROOT, Settings

FIXTURES = Path(__file__).parent / "fixtures"


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
    env.update({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8"}, **extra)
    return env


PYTHON = sys.executable
ROOT = REPO_ROOT
