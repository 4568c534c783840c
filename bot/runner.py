"""`homeroom run` with tokens: every configured channel over one Homeroom, until SIGTERM/SIGINT.

Families on Telegram (TELEGRAM_BOT_TOKEN), staff on Slack (SLACK_BOT_TOKEN) — either or both —
plus the one outbox worker that delivers for all of them, and the staff side's clock and
digests when Slack runs. Signals, reload, the pid file, backups and the other background jobs
are `bot.service`'s; the channels only parse and send. Without a token `homeroom run` is the
terminal chat (`bot.cli`).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.config import Settings

log = logging.getLogger(__name__)


async def run_channels(settings: Settings) -> int:
    """Start what the settings configure, in the order that keeps promises: Telegram's inbox
    recovery before anything is sent, Slack's replay of recorded staff replies before Slack
    connects (`SlackStaff.start`), then the outbox worker. Returns an exit code."""
    from bot.service import run_service

    async def body(service) -> int:
        homeroom = service.homeroom
        telegram = None
        try:
            if settings.slack_bot_token:
                from bot.channels.slack.app import slack_profile

                slack_profile(homeroom.profile)  # a missing [slack] table stops us before anything connects
            if settings.telegram_token:
                try:
                    telegram = await _start_telegram(settings, homeroom, service.health,
                                                     staff_tool=bool(settings.slack_bot_token))
                except OSError as exc:  # e.g. the webhook port is taken
                    print(f"homeroom: Telegram could not start ({exc.__class__.__name__}: {exc}); check "
                          "TELEGRAM_WEBHOOK_LISTEN and TELEGRAM_API_BASE_URL", file=sys.stderr)
                    return 1
                if telegram is None:
                    return 1
            if settings.slack_bot_token:
                return await _serve_slack(settings, homeroom, service)
            worker = asyncio.ensure_future(homeroom.delivery.run(service.stop))
            await service.stop.wait()
            await worker
            return 0
        finally:
            if telegram is not None:
                if service.stop.is_set():
                    log.info("telegram.stopping reason=signal")
                await telegram.stop()

    return await run_service(settings, body)


async def _start_telegram(settings: Settings, homeroom, health, staff_tool: bool):
    """The Telegram channel, started (inbox recovered, polling or webhook), with the outbox's
    Telegram rows registered; None when the Bot API cannot be reached (already reported)."""
    from bot.channels.telegram.channel import (TelegramUnreachable, build_channel, register_outbox, start_channel,
                                               webhook_health)

    channel = build_channel(settings, homeroom, channel_health=health)
    channel.health = webhook_health(homeroom, health)  # before the webhook port opens
    register_outbox(homeroom, channel, staff_tool=staff_tool)
    try:
        await start_channel(channel, settings)
    except TelegramUnreachable:
        await channel.stop()
        return None
    except BaseException:
        await channel.stop()
        raise
    return channel


async def _serve_slack(settings: Settings, homeroom, service) -> int:
    from bot.channels.slack.app import serve_slack

    try:
        return await serve_slack(settings, homeroom, service.stop, service=service)
    except OSError as exc:  # the listen address is taken, or Slack is unreachable at start
        print(f"homeroom: Slack could not start ({exc.__class__.__name__}: {exc}); check SLACK_LISTEN "
              f"({settings.slack_listen}) and SLACK_API_URL ({settings.slack_api_url})", file=sys.stderr)
        return 1
