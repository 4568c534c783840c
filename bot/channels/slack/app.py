"""The Slack side of Homeroom: the bolt `AsyncApp`, the outbox sender, the ticket clock, and
how they run (Socket Mode with SLACK_APP_TOKEN, else HTTP on SLACK_LISTEN).

    homeroom = await bot.app.start(settings)
    slack = SlackStaff(settings, homeroom)      # registers the "staff" outbox sender
    await slack.start()                          # auth.test, then Socket Mode or the HTTP server
    ...                                          # homeroom.delivery.run(stop) delivers the outbox
    await slack.stop()

`serve_slack(settings, homeroom, stop)` runs all of that on a started Homeroom until `stop` is
set; `homeroom run` calls it from `bot.runner`, which also starts Telegram when configured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot import office_hours
from bot.channels.slack import durable, listeners
from bot.channels.slack.sender import SlackSender
from bot.config import ConfigError, SchoolProfile, Settings, SlackProfile
from bot.handoff import AUTO_RESUMED_TEXT, STAFF_CHANNEL, Handoff, staff_target
from bot.outbox_messages import TicketReminder
from bot.signups.staff import digest_loop
from bot.storage import Database, outbox, tickets

log = logging.getLogger("bot.slack")

EVENTS_PATH = "/slack/events"
AUTO_RESUMER = "Homeroom (no staff activity)"
STAFF_KINDS = ("staff", "note", "claimed", "open", "resolved")


def slack_profile(profile: SchoolProfile) -> SlackProfile:
    if profile.slack is None:
        raise ConfigError(f"{profile.path}: Slack is configured (SLACK_BOT_TOKEN) but the school profile has no "
                          "[slack] table; add one with default_channel = \"C…\" (see sample_school/school.toml)")
    return profile.slack


def build_client(settings: Settings, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """The Web API client: SLACK_BOT_TOKEN, SLACK_API_URL, one in-client retry on HTTP 429.
    Pass a `session` to keep connections open between calls (without one, slack_sdk opens a new
    connection, and a new TLS handshake, for every request)."""
    return AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, session=session,
                          retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])


def build_app(settings: Settings, client: AsyncWebClient | None = None) -> AsyncApp:
    """The bolt app; request signatures are verified (5-minute window, bolt's default) in HTTP mode."""
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    if not settings.slack_app_token and not settings.slack_signing_secret:
        raise ConfigError("Slack HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode, "
                          "which needs no public URL)")
    return AsyncApp(client=client or build_client(settings), signing_secret=settings.slack_signing_secret or "",
                    name="homeroom")


class TicketClock:
    """Once a minute: one reminder in the thread of a ticket nobody answered within
    `first_response_minutes` (only while the office is open, or for urgent tickets), and the bot
    takes the family back after `auto_resume_hours` with no staff activity."""

    def __init__(self, db: Database, handoff: Handoff, profile: SchoolProfile, slack: SlackProfile,
                 clock: Callable[[], datetime], wake: Callable[[], None] = lambda: None) -> None:
        self.db, self.handoff, self.profile, self.slack, self.clock, self.wake = db, handoff, profile, slack, clock, wake

    async def check_once(self) -> tuple[int, int]:
        """Returns (reminders queued, tickets given back to the bot)."""
        now = self.clock()
        reminded = await self._remind(now) if self.slack.first_response_minutes else 0
        resumed = await self._resume(now) if self.slack.auto_resume_hours else 0
        if reminded or resumed:
            self.wake()
        return reminded, resumed

    async def _remind(self, now: datetime) -> int:
        minutes = self.slack.first_response_minutes
        cutoff = (now - timedelta(minutes=minutes)).isoformat()
        office_open = office_hours.is_open(self.profile, now)

        def work(conn, stamp):
            due = conn.execute(
                "SELECT t.id, t.priority FROM tickets t WHERE t.status != 'resolved' AND t.first_response_at IS NULL"
                " AND t.staff_ref IS NOT NULL AND t.created_at <= ? AND NOT EXISTS (SELECT 1 FROM ticket_events e"
                " WHERE e.ticket_id = t.id AND e.kind = 'reminder')", (cutoff,)).fetchall()
            count = 0
            for ticket_id, priority in due:
                if not office_open and priority != "urgent":
                    continue  # after hours: remind when the office opens
                tickets.add_event(conn, ticket_id, "reminder", "homeroom", f"no staff reply after {minutes} minutes",
                                  stamp)
                outbox.add(conn, STAFF_CHANNEL, staff_target(ticket_id), TicketReminder(minutes), stamp,
                           ticket_id=ticket_id)
                count += 1
            return count

        return await self.db.transact(work, now.isoformat())

    async def _resume(self, now: datetime) -> int:
        cutoff = (now - timedelta(hours=self.slack.auto_resume_hours)).isoformat()
        marks = ",".join("?" * len(STAFF_KINDS))
        rows = await self.db.run(lambda conn: conn.execute(
            f"SELECT t.id FROM tickets t WHERE t.status != 'resolved' AND COALESCE((SELECT MAX(e.created_at)"
            f" FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind IN ({marks})), t.created_at) <= ?",
            (*STAFF_KINDS, cutoff)).fetchall())
        resumed = 0
        for (ticket_id,) in rows:
            try:
                await self.handoff.resolve(ticket_id, AUTO_RESUMER, family_text=AUTO_RESUMED_TEXT)
                resumed += 1
                log.info("slack.auto_resumed ticket=%s hours=%s", ticket_id, self.slack.auto_resume_hours)
            except Exception as exc:  # resolved meanwhile, or gone
                log.info("slack.auto_resume_skipped ticket=%s reason=%s", ticket_id, exc)
        return resumed

    async def run(self, stop: asyncio.Event, interval: float = 60.0) -> None:
        while not stop.is_set():
            try:
                await self.check_once()
            except Exception:
                log.exception("slack.clock_error")
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except asyncio.TimeoutError:
                pass


class SlackStaff:
    """Slack for staff over a started Homeroom: the app, listeners, outbox sender and clock.

    `pace`: seconds between posts to one Slack channel (0: off). `clock`: the time source for
    reminders, stats and notices (default: the outbox's; tests pass a fake one)."""

    def __init__(self, settings: Settings, homeroom, *, client: AsyncWebClient | None = None,
                 pace: float = 1.0, clock: Callable[[], datetime] | None = None) -> None:
        self.settings, self.homeroom = settings, homeroom
        self.slack = slack_profile(homeroom.profile)
        self._session = None
        if client is None:  # ours: one connection pool for every call (closed by close())
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            client = build_client(settings, self._session)
        self.client = client
        self.app = build_app(settings, self.client)
        self.clock = clock or (lambda: homeroom.delivery.clock())
        self.handoff = homeroom.handoff  # bot.app.start built it with the profile's note prefix
        self.directory = listeners.StaffDirectory(self.client, self.slack)
        self.sender = SlackSender(self.client, homeroom.db, self.slack,
                                  lambda: homeroom.understanding.current.catalog, pace=pace,
                                  wake=homeroom.delivery.wake, on_posted=self.handoff.reached_staff,
                                  media=homeroom.media,
                                  translates=lambda lang: homeroom.engine.localizer.can_machine_translate("en", lang))
        self.ticket_clock = TicketClock(homeroom.db, self.handoff, homeroom.profile, self.slack, self.clock,
                                        homeroom.delivery.wake)
        self._replay = listeners.register(self.app, listeners.Staffing(
            db=homeroom.db, handoff=self.handoff, profile=homeroom.profile, slack=self.slack,
            directory=self.directory, client=self.client, wake=homeroom.delivery.wake, clock=self.clock))
        homeroom.delivery.register(STAFF_CHANNEL, self.sender, accepts=self.sender.accepts)
        self._socket = None
        self._runner: web.AppRunner | None = None

    @property
    def mode(self) -> str:
        return "socket" if self.settings.slack_app_token else "http"

    async def check_token(self) -> dict:
        """auth.test: a refused token is a configuration error, not a crash."""
        try:
            answer = await self.client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
                raise ConfigError(f"SLACK_BOT_TOKEN was refused by Slack ({error}); copy the Bot User OAuth "
                                  "Token (xoxb-…) from your app's OAuth & Permissions page") from None
            raise
        return answer.data if isinstance(answer.data, dict) else {}

    async def post_report(self, text: str, body: list, png: bytes) -> None:
        """The weekly community report: the numbers as a message, the chart as a file under it.
        Sent directly (not through the outbox): the report loop retries a failed week itself."""
        channel = self.slack.report_channel
        answer = await self.client.chat_postMessage(channel=channel, text=text, blocks=body, unfurl_links=False)
        if png:
            await self.client.files_upload_v2(channel=channel, thread_ts=answer["ts"], content=png,
                                              filename="homeroom-weekly-report.png", title="Homeroom weekly report")

    async def socket_url(self) -> str:
        """apps.connections.open (through SLACK_API_URL) with the app-level token. Done once here
        because slack_sdk's `connect()` retries a refused token forever: a wrong SLACK_APP_TOKEN
        would hang start-up instead of stopping it with a clear message."""
        try:
            answer = await self.client.apps_connections_open(app_token=self.settings.slack_app_token)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in ("invalid_auth", "not_authed", "not_allowed_token_type", "account_inactive",
                         "token_revoked"):
                raise ConfigError(f"SLACK_APP_TOKEN was refused by Slack ({error}); create an app-level token "
                                  "(xapp-…) with the connections:write scope under Basic Information, App-Level "
                                  "Tokens, and turn on Socket Mode") from None
            raise
        return answer["url"]

    async def start(self) -> None:
        me = await self.check_token()
        # staff replies and clicks a crash left between Slack's ack and their listener, before new ones
        await durable.replay(self._replay, self.homeroom.db, self.clock())
        if self.settings.slack_app_token:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.app, self.settings.slack_app_token)
            self._socket.client.wss_uri = await self.socket_url()  # connect() uses it, then opens new ones
            await self._socket.connect_async()
        else:
            host, _, port = self.settings.slack_listen.rpartition(":")
            server = self.app.server(port=int(port), path=EVENTS_PATH, host=host)
            self._runner = web.AppRunner(server.web_app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, host, int(port)).start()
        log.info("slack.started mode=%s bot=%s team=%s listen=%s", self.mode, me.get("user_id"), me.get("team_id"),
                 self.settings.slack_listen if self.mode == "http" else "-")

    async def stop(self) -> None:
        """Stop listening (Socket Mode or HTTP) and close our connections to Slack. The
        outbox worker is the caller's to stop (before this, if it should finish its round)."""
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.close()
        log.info("slack.stopped posted=%d", self.sender.posted)

    async def close(self) -> None:
        await self.sender.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()


async def serve_slack(settings: Settings, homeroom, stop: asyncio.Event, *, pace: float = 1.0,
                      service=None) -> int:
    """Run Slack for staff on an already started Homeroom until `stop` is set: the listeners
    (Socket Mode or HTTP), the outbox worker, the ticket clock and the daily sign-ups digest.
    Under `homeroom run` (`service`: bot.service) it also reports Slack's health and lets a
    reload reach the sender's catalog. Returns an exit code."""
    slack = SlackStaff(settings, homeroom, pace=pace)
    try:
        await slack.start()
    except BaseException:
        await slack.stop()
        raise
    if service is not None:
        service.health.watch("slack", lambda: (not slack.sender.breaker_open(),
                                               "Slack unreachable: messages wait in the outbox"
                                               if slack.sender.breaker_open() else "connected"))
    tasks = [asyncio.ensure_future(homeroom.delivery.run(stop)), asyncio.ensure_future(slack.ticket_clock.run(stop)),
             asyncio.ensure_future(digest_loop(homeroom.db, homeroom.profile, stop, homeroom.delivery.wake,
                                               clock=slack.clock))]
    if slack.slack.report_channel:
        from bot.reports.weekly import weekly_report_loop

        tasks.append(asyncio.ensure_future(weekly_report_loop(homeroom.db,
                                                              lambda: homeroom.understanding.current.catalog,
                                                              homeroom.profile, slack.post_report, stop,
                                                              clock=slack.clock)))
    try:
        await stop.wait()
        return 0
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)  # the worker finishes its round first
        await slack.stop()
