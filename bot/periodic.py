"""Background jobs that run every so often until the bot stops (reminders, the sign-ups digest,
retention, backups): one loop, so each job is only its own work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("bot.periodic")


async def every(interval: float, stop: asyncio.Event, job: Callable[[], Awaitable[object]], name: str) -> None:
    """Run `job()` now and then every `interval` seconds until `stop` is set. A failure is
    logged (with `name`) and the job runs again next time: a background job never stops the bot."""
    while not stop.is_set():
        try:
            await job()
        except Exception:
            log.exception("%s.failed", name)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass
