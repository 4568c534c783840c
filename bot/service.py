"""The shell of a long-running Homeroom process (`homeroom run` with Telegram and/or Slack).

Channels differ; what surrounds them does not, so it lives here once: SIGTERM/SIGINT stop
gracefully, SIGHUP reloads the catalogs (`homeroom reload`), the pid file keeps a second bot
off the same database, and the background jobs run beside the channels — reminders, retention,
nightly backups — plus the health endpoint when `HOMEROOM_HEALTH_LISTEN` is set.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.ops.status import ChannelHealth

log = logging.getLogger("bot.service")


@dataclass
class Service:
    """What a runner's body gets: the started Homeroom, the stop event, and channel health
    (report into it)."""

    settings: Settings
    homeroom: Any
    stop: asyncio.Event
    health: ChannelHealth = field(default_factory=ChannelHealth)
    tasks: list[asyncio.Future] = field(default_factory=list)

    def spawn(self, job: Coroutine[Any, Any, Any]) -> None:
        self.tasks.append(asyncio.ensure_future(job))


async def run_service(settings: Settings, body: Callable[[Service], Awaitable[int]]) -> int:
    """Start Homeroom, run `body(service)` until it returns (normally when `stop` is set), then
    stop everything in order: jobs finish their round, the store closes last."""
    from bot.app import start
    from bot.ops.backup import backup_loop
    from bot.ops.health import serve_health
    from bot.ops.pidfile import AlreadyRunning, PidFile, pid_path
    from bot.ops.reload import install_reload_signal
    from bot.ops.status import status_source

    homeroom = await start(settings)
    loop = asyncio.get_running_loop()
    service = Service(settings, homeroom, asyncio.Event())
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, service.stop.set)
    # before the pid file: SIGHUP's default action would kill a bot that `homeroom reload` signals
    remove_reload = install_reload_signal(loop, homeroom)
    try:
        with PidFile(pid_path(settings)):
            for job in homeroom.background_jobs():
                service.spawn(job(service.stop))
            service.spawn(backup_loop(settings, service.stop))
            if settings.health_listen:
                service.spawn(serve_health(status_source(homeroom, service.health), settings.health_listen,
                                           service.stop))
            return await body(service)
    except AlreadyRunning as exc:
        print(f"homeroom: {exc}", file=sys.stderr)
        return 2
    finally:
        service.stop.set()
        await asyncio.gather(*service.tasks, return_exceptions=True)
        remove_reload()
        for sig in signals:
            loop.remove_signal_handler(sig)
        await homeroom.close()
        log.info("service.stopped")
