"""Command-line entry points of this package, registered by `bot.cli`."""

from __future__ import annotations

import argparse
from typing import Callable

from bot.config import Settings

Handler = Callable[[Settings, argparse.Namespace], int]


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add this package's sub-commands to `homeroom`; return name -> handler."""
    return {}
