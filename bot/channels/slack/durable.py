"""Staff actions survive a crash: what staff do in Slack is written to the inbox before Slack gets its ack.

Bolt acknowledges an event before its listener runs (Socket Mode: the ack over the websocket;
HTTP mode: the 200), and Slack never resends an acknowledged event. Between that ack and the
listener's own transaction it asks Slack who may act (`conversations.members`) and translates:
seconds in which a crash used to lose a staff reply, with nobody told.

So a global middleware (it runs before bolt acks) records every event that changes something —
a person's message in a ticket thread (keyed by Slack's `event_id`) and a click on a ticket's
Claim/Resolve/Reopen button (Slack gives clicks no event id: keyed by who, which button, and the
click's `action_ts`) — in the `inbox` table, channel "slack". The listener marks the row handled
when it is done, whatever the outcome. At start-up, before Slack connects, `replay()` runs what is
left through the same listeners, one at a time and in order. A relay that committed before the
crash is not repeated: `Handoff.reply` dedupes by the same `event_id`; a click done twice finds
the ticket already in that state and says so. The row's content is cleared once handled.

`/homeroom` commands and App Home only read: they are not recorded. Lost in a crash, the person
sees no answer and asks again; replaying one later would answer a question nobody waits for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.channels.slack.blocks import ACTIONS
from bot.storage import Database, inbox

log = logging.getLogger(__name__)

SLACK_INBOX = "slack"  # the inbox's channel column for Slack events
MAX_ATTEMPTS = 3       # a replayed event that failed this often is given up (logged)
REPLY_SUBTYPES = (None, "file_share", "thread_broadcast")  # what a person's reply looks like


def thread_reply_id(body: dict[str, Any]) -> str | None:
    """Slack's event id when `body` is a person's message in a thread, else None."""
    if body.get("type") != "event_callback":
        return None
    event = body.get("event") or {}
    if event.get("type") != "message" or event.get("bot_id") or not event.get("user"):
        return None
    if event.get("subtype") not in REPLY_SUBTYPES:
        return None
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts"):
        return None
    return body.get("event_id") or None


def ticket_click_id(body: dict[str, Any]) -> str | None:
    """A key for a click on a ticket button (who, which, when), else None."""
    if body.get("type") != "block_actions":
        return None
    actions = body.get("actions") or []
    user = (body.get("user") or {}).get("id")
    if len(actions) != 1 or actions[0].get("action_id") not in ACTIONS or not actions[0].get("action_ts") or not user:
        return None
    return f"click:{user}:{actions[0]['action_id']}:{actions[0]['action_ts']}"


def staff_event_id(body: dict[str, Any]) -> str | None:
    """The inbox key of an event that must not be lost (a thread reply, a ticket click), else None."""
    return thread_reply_id(body) or ticket_click_id(body)


def _chat_of(body: dict[str, Any]) -> str | None:
    return (body.get("event") or {}).get("channel") or (body.get("channel") or {}).get("id")


def install(app: AsyncApp, db: Database, clock: Callable[[], datetime]) -> None:
    """Add the recording middleware to `app` (before the listeners see anything)."""

    @app.middleware
    async def record_staff_event(body: dict[str, Any], next_) -> None:
        key = staff_event_id(body)
        if key:
            await db.transact(inbox.record_event, SLACK_INBOX, key, _chat_of(body),
                              json.dumps(body, ensure_ascii=False), clock().isoformat())
        await next_()


async def finished(db: Database, body: dict[str, Any], outcome: str, now: datetime) -> None:
    """The listener is done with this event (relayed, refused, ignored…): never replay it."""
    key = staff_event_id(body)
    if key:
        await db.transact(inbox.finish, SLACK_INBOX, key, outcome, now.isoformat())


async def replay(handle: Callable[[dict[str, Any]], Awaitable[None]], db: Database, now: datetime) -> int:
    """At start-up: run the staff events a previous run recorded but did not finish through
    their listener again (`handle(body)`), one at a time and awaited, in the order they came —
    so two replies to one ticket keep their order, and all are done before Slack connects.
    Returns how many."""
    rows, given_up = await db.transact(inbox.take_unhandled, SLACK_INBOX, now.isoformat(), MAX_ATTEMPTS)
    for event_id in given_up:
        log.error("slack.gave_up event_id=%s attempts=%d", event_id, MAX_ATTEMPTS)
    for row in rows:  # verified when it arrived; bolt acked it then
        await handle(json.loads(row.payload))
    if rows:
        log.info("slack.replayed count=%d", len(rows))
    return len(rows)
