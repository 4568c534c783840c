"""Staff replies survive a crash: a thread reply is written to the inbox before Slack gets its ack.

Bolt acknowledges an event before its listener runs (Socket Mode: the ack over the websocket;
HTTP mode: the 200), and Slack never resends an acknowledged event. Between that ack and the
relay's own transaction the listener asks Slack who may act (`conversations.members`) and
translates: seconds in which a crash used to lose the reply, with nobody told.

So a global middleware (it runs before bolt acks) records every message event that can be a
staff reply — a person's message in a thread — in the `inbox` table, channel "slack", keyed by
Slack's `event_id`. The listener marks the row handled when it is done, whatever the outcome.
At start-up, before Slack connects, `replay()` runs what is left through the same listener, one
reply at a time. A
relay that committed before the crash is not repeated: `Handoff.reply` dedupes by the same
`event_id`. The row's content is cleared once handled, as for Telegram updates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp

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


def install(app: AsyncApp, db: Database, clock: Callable[[], datetime]) -> None:
    """Add the recording middleware to `app` (before the listeners see anything)."""

    @app.middleware
    async def record_staff_reply(body: dict[str, Any], next_) -> None:
        event_id = thread_reply_id(body)
        if event_id:
            await db.transact(inbox.record_event, SLACK_INBOX, event_id, (body.get("event") or {}).get("channel"),
                              json.dumps(body, ensure_ascii=False), clock().isoformat())
        await next_()


async def finished(db: Database, body: dict[str, Any], outcome: str, now: datetime) -> None:
    """The listener is done with this event (relayed, refused, ignored…): never replay it."""
    event_id = thread_reply_id(body)
    if event_id:
        await db.transact(inbox.finish, SLACK_INBOX, event_id, outcome, now.isoformat())


async def replay(handle: Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]], db: Database,
                 now: datetime) -> int:
    """At start-up: run the staff replies a previous run recorded but did not finish through the
    message listener (`handle(event, body)`), one at a time and awaited, in the order they came —
    so two replies to one ticket keep their order, and all are done before Slack connects.
    Returns how many."""
    rows, given_up = await db.transact(inbox.take_unhandled, SLACK_INBOX, now.isoformat(), MAX_ATTEMPTS)
    for event_id in given_up:
        log.error("slack.gave_up event_id=%s attempts=%d", event_id, MAX_ATTEMPTS)
    for row in rows:  # verified when it arrived; bolt acked it then
        body = json.loads(row.payload)
        await handle(body.get("event") or {}, body)
    if rows:
        log.info("slack.replayed count=%d", len(rows))
    return len(rows)
