"""When staff get email: an urgent ticket at once (no Slack) or when nobody claimed it within
`urgent_claim_minutes` (Slack), and once a day at `digest_time` the tickets nobody answered yet.

Every mail is an outbox row written in the same transaction as a `processed_events` key
("urgent:12", "digest-day:2026-12-07", "digest:12"), so a restart, a second check or a crash
never queues the same alert twice, and a queued one is retried until the server takes it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.channels.email.compose import MailContext, digest_mail, follow_up_mail, urgent_mail
from bot.channels.email.sender import EMAIL_CHANNEL
from bot.config import EmailProfile
from bot.core.messages import utcnow
from bot.outbox_messages import Email
from bot.storage import Database, audit, outbox, tickets

log = logging.getLogger("bot.email")
SOURCE = "email-alert"


class EmailAlerts:
    def __init__(self, db: Database, email: EmailProfile, ctx: MailContext,
                 clock: Callable[[], datetime] = utcnow, wake: Callable[[], None] = lambda: None) -> None:
        self.db, self.email, self.ctx, self.clock, self.wake = db, email, ctx, clock, wake

    # -- urgent ------------------------------------------------------------------------------
    def queue_urgent(self, conn: sqlite3.Connection, ticket_id: int, now: str) -> bool:
        """Queue the urgent mail for a ticket (once per ticket); in the caller's transaction."""
        if not audit.first_time(conn, SOURCE, f"urgent:{ticket_id}", now):
            return False
        mail = urgent_mail(conn, ticket_id, self.ctx)
        if mail is None:
            return False
        subject, body = mail
        # no outbox ticket_id: the mail must go even if the family deletes its data meanwhile
        outbox.add(conn, EMAIL_CHANNEL, f"urgent:{ticket_id}",
                   Email(self.email.urgent_recipients(), subject, body, (ticket_id,), "urgent", urgent=True),
                   now)
        tickets.add_event(conn, ticket_id, "alert", "homeroom",
                          f"urgent email queued for {', '.join(self.email.urgent_recipients())}", now)
        log.info("email.urgent_queued ticket=%s", ticket_id)
        return True

    def queue_notice(self, conn: sqlite3.Connection, ticket_id: int, text: str, now: str) -> bool:
        """A notice about a ticket (e.g. the family deleted its data) to the urgent recipients."""
        body = "\n".join([text, "", f"Sent by Homeroom for {self.ctx.school}."])
        outbox.add(conn, EMAIL_CHANNEL, f"notice:{ticket_id}",
                   Email(self.email.urgent_recipients(),
                         f"Homeroom: ticket #{ticket_id}: the family deleted their data", body, what="notice"), now)
        return True

    def queue_follow_up(self, conn: sqlite3.Connection, ticket_id: int, text: str, language: str,
                        english: str | None, now: str) -> bool:
        """A later message on an urgent ticket whose urgent mail went out: mailed too, in the
        caller's transaction (its outbox row is the turn's, so a retried turn queues it once)."""
        ticket = tickets.get(conn, ticket_id)
        if ticket is None or ticket.priority != "urgent" or ticket.status == "resolved":
            return False
        if not audit.seen(conn, SOURCE, f"urgent:{ticket_id}"):
            return False  # no urgent mail yet: the one that comes will carry this message
        mail = follow_up_mail(conn, ticket_id, self.ctx, text, language, english)
        if mail is None:
            return False
        subject, body = mail
        outbox.add(conn, EMAIL_CHANNEL, f"urgent:{ticket_id}",
                   Email(self.email.urgent_recipients(), subject, body, (ticket_id,), "follow-up", urgent=True), now)
        log.info("email.follow_up_queued ticket=%s", ticket_id)
        return True

    async def escalate_once(self) -> int:
        """With Slack: urgent tickets nobody claimed within `urgent_claim_minutes` are mailed."""
        now = self.clock()
        cutoff = (now - timedelta(minutes=self.email.urgent_claim_minutes)).isoformat()

        def work(conn, stamp):
            due = conn.execute("SELECT id FROM tickets WHERE priority = 'urgent' AND status = 'open'"
                               " AND first_response_at IS NULL AND created_at <= ? ORDER BY id", (cutoff,)).fetchall()
            return sum(self.queue_urgent(conn, ticket_id, stamp) for (ticket_id,) in due)

        queued = await self.db.transact(work, now.isoformat())
        if queued:
            self.wake()
        return queued

    # -- the daily digest --------------------------------------------------------------------
    async def digest_once(self) -> int:
        """At or after `digest_time` (school time), once a day: one mail per recipient list with
        the open tickets nobody answered yet that no earlier digest listed. Returns mails queued."""
        if self.email.digest_time is None:
            return 0
        now = self.clock()
        local = now.astimezone(self.ctx.timezone)
        if local.time() < self.email.digest_time:
            return 0
        day = local.date().isoformat()

        def work(conn, stamp):
            if not audit.first_time(conn, SOURCE, f"digest-day:{day}", stamp):
                return 0
            rows = conn.execute("SELECT id, topic FROM tickets WHERE status != 'resolved' AND priority != 'urgent'"
                                " AND first_response_at IS NULL ORDER BY id").fetchall()
            groups: dict[tuple[str, ...], list[int]] = {}
            for ticket_id, topic in rows:
                if audit.first_time(conn, SOURCE, f"digest:{ticket_id}", stamp):
                    groups.setdefault(self.email.digest_recipients(topic), []).append(ticket_id)
            queued = 0
            for index, (to, ids) in enumerate(sorted(groups.items())):
                mail = digest_mail(conn, ids, self.ctx, day)
                if mail is None:
                    continue
                outbox.add(conn, EMAIL_CHANNEL, f"digest:{day}:{index}",
                           Email(to, mail[0], mail[1], tuple(ids), "digest"), stamp)
                queued += 1
            return queued

        queued = await self.db.transact(work, now.isoformat())
        if queued:
            log.info("email.digest_queued day=%s mails=%s", day, queued)
            self.wake()
        return queued

    async def check_once(self) -> tuple[int, int]:
        escalated = await self.escalate_once() if self.ctx.slack else 0
        return escalated, await self.digest_once()

    async def run(self, stop: asyncio.Event, interval: float = 30.0) -> None:
        from bot.periodic import every

        await every(interval, stop, self.check_once, "email.alerts")
