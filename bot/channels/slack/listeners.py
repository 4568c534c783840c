"""Bolt listeners: Slack events → `Handoff` operations. `register(app, staff)` wires them.

Every listener acknowledges at once: events are acknowledged by bolt before the listener runs
(its default `process_before_response=False`), actions and commands call `ack()` first and then
do the work (translation, the store, Slack calls) while Slack already has its answer. Catch-all
listeners, registered last, acknowledge whatever else arrives — in Socket Mode an envelope no
listener handles is never acknowledged, and Slack delivers it again and again.

- **Thread replies** are recorded in the inbox before bolt acknowledges them
  (`bot.channels.slack.durable`), so a crash between the ack and the relay loses nothing. A
  human's message in a ticket's thread (its `thread_ts` is the ticket's `staff_ref`) from an
  authorized user → `Handoff.reply(…, event_id=body["event_id"],
  source="slack")`, which relays it to the family translated (or keeps it as an internal note)
  and dedupes Slack's redeliveries. Bots, joins and other subtypes are ignored. Edits and
  deletions are *not* relayed (the family already has the first version): the author gets an
  ephemeral "reply again" instead.
- **Who may act.** Members of the ticket's channel (`conversations.members`, cached for a few
  minutes) or the profile's `[slack] staff` list. Anyone else gets an ephemeral refusal and
  nothing is relayed or changed.
- **Buttons** Claim / Resolve / Reopen → `Handoff.claim/resolve/reopen`; the ticket message is
  then updated through the outbox (`ticket_update`), so the order of a ticket's messages holds.
- **`/homeroom`** `tickets` | `ticket N` | `stats` | `help`, answered ephemerally, and
  `signups …` (`bot.channels.slack.signups`); **App Home** shows the open tickets.
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack import blocks, durable, signups
from bot.config import SchoolProfile, SlackProfile
from bot.handoff import Handoff, TicketError
from bot.storage import Database, audit, tickets

log = logging.getLogger("bot.slack")

NOTICE_SOURCE = "slack-notice"   # dedupes our own ephemeral notices (Handoff.reply uses "slack")

REFUSED = ("Only school staff on this ticket's channel can answer families or change tickets. "
           "Nothing was sent to the family.")
EDITED = ("Edits are not sent to the family: they already have your first version. "
          "To correct it, reply again in this thread.")
DELETED = ("Deleting a reply here does not remove it from the family's chat. "
           "To correct it, reply again in this thread.")
FILES = "Files are not sent to families yet; only the text of your reply was sent."
UNAVAILABLE = "Slack could not confirm your access just now, so nothing was sent. Please send it again in a minute."


class DirectoryUnavailable(Exception):
    """Slack could not say who is in a channel right now (rate limit, outage, network)."""


class StaffDirectory:
    """Who counts as staff: members of the triage channels (cached) or the `[slack] staff` list."""

    def __init__(self, client: AsyncWebClient, slack: SlackProfile, ttl: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.slack, self.ttl, self.clock = client, slack, ttl, clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    async def allowed(self, user: str, channel: str | None = None) -> bool:
        """May `user` act on a ticket in `channel` (None: any triage channel)?"""
        if not user:
            return False
        if user in self.slack.staff:
            return True
        for candidate in ([channel] if channel else self.slack.triage_channels):
            if user in await self.members(candidate):
                return True
        return False

    async def members(self, channel: str) -> frozenset[str]:
        cached = self._members.get(channel)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        found: set[str] = set()
        cursor = None
        try:
            while True:
                answer = await self.client.conversations_members(channel=channel, limit=500, cursor=cursor)
                found.update(answer.get("members") or [])
                cursor = (answer.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            if cached is not None:  # keep the last answer rather than lock staff out
                return cached[1]
            if exc.response.status_code == 429 or exc.response.status_code >= 500:
                raise DirectoryUnavailable(str(exc.response.get("error"))) from None
            # the app is not in the channel, or a wrong id: nobody counts as a member
            log.warning("slack.members_failed channel=%s error=%s (invite the app to the channel?)", channel,
                        exc.response.get("error"))
            return frozenset()
        except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            if cached is not None:
                return cached[1]
            raise DirectoryUnavailable(exc.__class__.__name__) from None
        members = frozenset(found)
        self._members[channel] = (self.clock() + self.ttl, members)
        return members


@dataclass
class Staffing:
    """What the listeners work with (built by `bot.channels.slack.app.SlackStaff`)."""

    db: Database
    handoff: Handoff
    profile: SchoolProfile
    slack: SlackProfile
    directory: StaffDirectory
    client: AsyncWebClient
    wake: Callable[[], None]
    clock: Callable[[], datetime]


def register(app: AsyncApp, staff: Staffing) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """Add Homeroom's listeners to `app` (the catch-alls last: bolt runs the first match), after
    the middleware that records staff replies and ticket clicks before Slack gets its ack.
    Returns what runs a recorded event again at start-up (`durable.replay`)."""
    db, handoff = staff.db, staff.handoff
    durable.install(app, db, staff.clock)

    async def notify(channel: str, user: str, text: str, thread_ts: str | None = None,
                     event_id: str | None = None) -> None:
        """An ephemeral notice; once per event; a DM when the user is not in the channel."""
        if event_id and not await db.transact(audit.first_time, NOTICE_SOURCE, event_id, staff.clock().isoformat()):
            return
        try:
            await staff.client.chat_postEphemeral(channel=channel, user=user, text=blocks.notice(text),
                                                  thread_ts=thread_ts)
        except SlackApiError as exc:
            if exc.response.get("error") not in ("user_not_in_channel", "channel_not_found", "not_in_channel"):
                log.warning("slack.ephemeral_failed error=%s", exc.response.get("error"))
                return
            try:  # they can see the channel but are not in it: tell them privately instead
                await staff.client.chat_postMessage(channel=user, text=blocks.notice(text))
            except SlackApiError as dm_exc:
                log.warning("slack.dm_failed error=%s", dm_exc.response.get("error"))

    async def ticket_at(channel: str | None, thread_ts: str | None) -> tickets.Ticket | None:
        if not channel or not thread_ts:
            return None
        return await db.run(tickets.by_staff_ref, f"{channel}:{thread_ts}")

    # -- messages in ticket threads ------------------------------------------------------------
    @app.event("message")
    async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        outcome = "handled"
        try:
            await thread_message(event, body)
        except Exception:  # say so now, rather than relay it at some later start
            outcome = "error"
            log.exception("slack.message_failed event_id=%s", body.get("event_id"))
            if durable.thread_reply_id(body) and event.get("user"):
                try:
                    await notify(event.get("channel"), event["user"], "Not sent: something went wrong on "
                                 "Homeroom's side. Please send it again in a minute.", event.get("thread_ts"))
                except Exception:
                    log.exception("slack.notice_failed")
        # done, whatever the outcome: not replayed (only a crash before this line leaves it for
        # the next start, see bot.channels.slack.durable)
        await durable.finished(db, body, outcome, staff.clock())

    async def thread_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        subtype = event.get("subtype")
        if subtype in ("message_changed", "message_deleted"):
            await on_edit(event, body)
            return
        if subtype not in (None, "file_share", "thread_broadcast") or event.get("bot_id") or not event.get("user"):
            return  # bots (ourselves too), joins, topic changes and other service messages
        thread_ts, channel = event.get("thread_ts"), event.get("channel")
        if not thread_ts or thread_ts == event.get("ts"):
            return  # not a thread reply (channel chatter, or the ticket message itself)
        ticket = await ticket_at(channel, thread_ts)
        if ticket is None:
            return
        user, event_id = event["user"], body.get("event_id")
        try:
            allowed = await staff.directory.allowed(user, channel)
        except DirectoryUnavailable:
            await notify(channel, user, UNAVAILABLE, thread_ts, event_id)
            return
        if not allowed:
            log.info("slack.refused ticket=%s user=%s kind=reply", ticket.id, user)
            await notify(channel, user, REFUSED, thread_ts, event_id)
            return
        text = blocks.slack_to_plain(event.get("text") or "").strip()
        if not text:
            if event.get("files"):
                await notify(channel, user, "Files are not sent to families yet: write your reply as text.",
                             thread_ts, event_id)
            return
        try:
            outcome = await handoff.reply(ticket.id, user, text, event_id=event_id, source="slack")
        except TicketError as exc:
            await notify(channel, user, f"Not sent: {exc}", thread_ts, event_id)
            return
        except Exception:  # the store or the translator failed: say so rather than stay silent
            log.exception("slack.reply_failed ticket=%s", ticket.id)
            await notify(channel, user, "Not sent: something went wrong on Homeroom's side. Please send it again "
                         "in a minute.", thread_ts, event_id)
            return
        log.info("slack.reply ticket=%s relayed=%s internal=%s duplicate=%s", ticket.id, outcome.relayed,
                 outcome.internal, outcome.duplicate)
        if outcome.relayed:
            staff.wake()
            # at once, privately: what the family will get (the thread says "Delivered" once it is)
            await notify(channel, user, outcome.staff_note + (" " + FILES if event.get("files") else ""),
                         thread_ts, event_id)

    async def on_edit(event: dict[str, Any], body: dict[str, Any]) -> None:
        edited = subtype = event.get("subtype")
        message = event.get("message") if subtype == "message_changed" else event.get("previous_message")
        previous = event.get("previous_message") or {}
        if not isinstance(message, dict) or message.get("bot_id") or not message.get("user"):
            return
        thread_ts = message.get("thread_ts")
        if not thread_ts or thread_ts == message.get("ts"):
            return
        if edited == "message_changed" and message.get("text") == previous.get("text"):
            return  # an unfurl or a reply count, not an edit
        original = blocks.slack_to_plain(previous.get("text") or message.get("text") or "").strip()
        if original.lower().startswith(staff.slack.note_prefix.lower()):
            return  # a note was never sent: editing it is fine
        channel = event.get("channel")
        ticket = await ticket_at(channel, thread_ts)
        if ticket is None:
            return
        await notify(channel, message["user"], EDITED if edited == "message_changed" else DELETED, thread_ts,
                     body.get("event_id"))

    # -- buttons -------------------------------------------------------------------------------
    operations = {blocks.ACTION_CLAIM: handoff.claim, blocks.ACTION_RESOLVE: handoff.resolve,
                  blocks.ACTION_REOPEN: handoff.reopen}

    @app.action(re.compile(f"^({'|'.join(blocks.ACTIONS)})$"))
    async def on_ticket_button(ack, body: dict[str, Any], action: dict[str, Any], respond) -> None:
        await ack()
        outcome = "handled"
        try:
            await ticket_button(body, action, respond)
        except Exception:
            outcome = "error"
            log.exception("slack.button_failed action=%s", action.get("action_id"))
            try:
                await respond(text=blocks.notice("Not done: something went wrong on Homeroom's side. Please try "
                                                 "again in a minute."), response_type="ephemeral",
                              replace_original=False)
            except Exception:
                log.exception("slack.notice_failed")
        await durable.finished(db, body, outcome, staff.clock())  # as for messages: replayed only after a crash

    async def ticket_button(body: dict[str, Any], action: dict[str, Any], respond) -> None:
        user = (body.get("user") or {}).get("id", "")
        try:
            ticket_id = int(action.get("value") or "")
        except ValueError:
            return
        ticket = await db.run(tickets.get, ticket_id)
        if ticket is None:
            await respond(text=f"Ticket #{ticket_id} no longer exists.", response_type="ephemeral",
                          replace_original=False)
            return
        channel = ticket.staff_ref.partition(":")[0] if ticket.staff_ref else (body.get("channel") or {}).get("id")
        try:
            allowed = await staff.directory.allowed(user, channel)
        except DirectoryUnavailable:
            await respond(text=blocks.notice(UNAVAILABLE), response_type="ephemeral", replace_original=False)
            return
        if not allowed:
            log.info("slack.refused ticket=%s user=%s kind=%s", ticket_id, user, action["action_id"])
            await respond(text=blocks.notice(REFUSED), response_type="ephemeral", replace_original=False)
            return
        try:
            await operations[action["action_id"]](ticket_id, user)
        except TicketError as exc:
            await respond(text=blocks.notice(str(exc)), response_type="ephemeral", replace_original=False)
            return
        staff.wake()

    # -- /homeroom -----------------------------------------------------------------------------
    @app.command("/homeroom")
    async def on_command(ack, command: dict[str, Any], respond) -> None:
        await ack()
        user = command.get("user_id", "")
        word, _, rest = (command.get("text") or "").strip().partition(" ")
        word = word.lower()
        if word in ("", "help"):
            await respond(text=blocks.help_text(staff.slack.note_prefix), response_type="ephemeral")
            return
        if word == "signups":  # checks who asks itself (the signups channel's members may, too)
            await signups.command(staff, command, rest, respond)
            return
        if word not in ("tickets", "ticket", "stats"):
            await respond(text=f"Unknown command `{blocks.escape(word)}`.\n" + blocks.help_text(staff.slack.note_prefix),
                          response_type="ephemeral")
            return
        try:
            allowed = await staff.directory.allowed(user)
        except DirectoryUnavailable:
            await respond(text=blocks.notice(UNAVAILABLE), response_type="ephemeral")
            return
        if not allowed:
            await respond(text=blocks.notice(REFUSED), response_type="ephemeral")
            return
        if word == "tickets":
            text, body = blocks.tickets_blocks(await open_rows())
        elif word == "ticket":
            number = rest.strip().lstrip("#")
            if not number.isdigit():
                await respond(text="Usage: `/homeroom ticket N`", response_type="ephemeral")
                return
            try:
                ticket, events = await handoff.show(int(number), user)  # audit: who viewed it
            except TicketError as exc:
                await respond(text=blocks.notice(str(exc)), response_type="ephemeral")
                return
            title = (f"Ticket #{ticket.id}: {ticket.status}, {ticket.priority}, {ticket.topic}, {ticket.language}"
                     + (f", needs interpreter: {ticket.interpreter}" if ticket.interpreter else ""))
            text, body = blocks.ticket_detail_blocks(title, events)
        else:
            text, body = blocks.stats_blocks(*await today_stats(db, staff.profile, staff.clock()))
        await respond(text=text, blocks=body, response_type="ephemeral")

    # -- App Home ------------------------------------------------------------------------------
    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        user = event["user"]
        try:
            rows = await open_rows() if await staff.directory.allowed(user) else None
        except DirectoryUnavailable:
            return  # the tab keeps its last view
        try:
            await staff.client.views_publish(user_id=user, view=blocks.home_view(rows, staff.slack.note_prefix))
        except SlackApiError as exc:
            log.warning("slack.home_failed error=%s", exc.response.get("error"))

    async def open_rows() -> list[blocks.TicketRow]:
        now = staff.clock()
        rows = []
        for t in await handoff.list_open():
            created = datetime.fromisoformat(t.created_at)
            rows.append(blocks.TicketRow(t.id, t.priority, t.status, t.topic, t.language, t.assignee,
                                         (now - created).total_seconds(),
                                         t.staff_ref.partition(":")[0] if t.staff_ref else None, t.interpreter))
        return rows

    # -- everything else: acknowledge, do nothing ----------------------------------------------
    @app.event(re.compile(".*"))
    async def ignore_event() -> None:
        """Acknowledged by bolt already; listening keeps Socket Mode from redelivering it."""

    @app.action(re.compile(".*"))
    async def ignore_action(ack) -> None:
        await ack()

    @app.command(re.compile(".*"))
    async def ignore_command(ack) -> None:
        await ack("This command is not handled by Homeroom.")

    @app.shortcut(re.compile(".*"))
    async def ignore_shortcut(ack) -> None:
        await ack()

    @app.view(re.compile(".*"))
    async def ignore_view(ack) -> None:
        await ack()

    @app.options(re.compile(".*"))
    async def ignore_options(ack) -> None:
        await ack(options=[])

    async def replay(body: dict[str, Any]) -> None:
        """A recorded staff event again, through the listener it first came to (durable.replay).
        Its response_url may have expired by now: answers go to the person as an ephemeral."""
        if body.get("type") != "block_actions":
            await on_message(body.get("event") or {}, body)
            return
        user, channel = (body.get("user") or {}).get("id", ""), (body.get("channel") or {}).get("id", "")

        async def respond(text: str = "", **_: Any) -> None:
            await notify(channel, user, text)

        async def ack(*_: Any, **__: Any) -> None:
            """Slack was answered when the click came."""
        await on_ticket_button(ack, body, body["actions"][0], respond)
    return replay


async def today_stats(db: Database, profile: SchoolProfile,
                      now: datetime) -> tuple[str, int, int, float | None, list[tuple[str, int]]]:
    """Today (the school's day): questions, hand-offs, median first response (minutes), languages."""
    local = now.astimezone(profile.tz)
    start_local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = start_local.astimezone(now.tzinfo).isoformat()
    end = (start_local + timedelta(days=1)).astimezone(now.tzinfo).isoformat()

    def read(conn):
        questions = conn.execute("SELECT COUNT(*) FROM messages WHERE direction = 'in' AND created_at >= ?"
                                 " AND created_at < ?", (start, end)).fetchone()[0]
        made = conn.execute("SELECT created_at, first_response_at FROM tickets WHERE created_at >= ?"
                            " AND created_at < ?", (start, end)).fetchall()
        langs = conn.execute("SELECT COALESCE(language, '?'), COUNT(*) FROM messages WHERE direction = 'in'"
                             " AND created_at >= ? AND created_at < ? GROUP BY 1 ORDER BY 2 DESC, 1",
                             (start, end)).fetchall()
        return questions, made, langs

    questions, made, langs = await db.run(read)
    waits = [(datetime.fromisoformat(first) - datetime.fromisoformat(created)).total_seconds() / 60
             for created, first in made if first]
    median = statistics.median(waits) if waits else None
    return local.date().isoformat(), int(questions), len(made), median, [(str(a), int(b)) for a, b in langs]
