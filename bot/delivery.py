"""Delivers the outbox: each channel registers a sender; rows are sent in order per target,
retried with backoff (or the far end's Retry-After) until they go, and marked sent once.
Polling the table (not only in-process signals) means rows written by another process — the
`homeroom tickets reply` command — are delivered by the running bot too. A family message may
carry `then`: a row queued in the transaction that marks it delivered (never before), and
`if_undeliverable`: a row queued when the far end refuses it for good (its text's `{reason}`
says why), so whoever sent it learns that it did not arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from bot.core.messages import utcnow
from bot.outbox_messages import FamilyMessage, FollowUp
from bot.storage import Database, outbox, tickets

log = logging.getLogger(__name__)

Sender = Callable[[outbox.Item], Awaitable[None]]


class RetryLater(Exception):
    """The far end asked us to wait (e.g. HTTP 429 Retry-After), or is down."""

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


class Undeliverable(Exception):
    """The far end refused the row for good (the family blocked the bot, the chat is gone):
    retrying will not help. The message says why, in words staff understand."""


class Delivery:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow, poll_interval: float = 1.0) -> None:
        self.db, self.clock, self.poll_interval = db, clock, poll_interval
        self._senders: dict[str, tuple[Sender, Callable[[str], bool] | None]] = {}
        self._wake = asyncio.Event()
        self._held: set[int] = set()

    @contextmanager
    def holding(self, item_ids: Iterable[int | None]) -> Iterator[None]:
        """Rows a channel is sending itself right now (a turn's replies): the worker leaves them
        alone for as long as the block lasts, however long a 429's Retry-After makes the channel
        wait — a row's time lease only covers the moment before the channel holds it, and a crash.
        So one process never sends a row twice by two paths. Let go when the block ends, sent or not."""
        ids = {i for i in item_ids if i is not None}
        self._held |= ids
        try:
            yield
        finally:
            self._held -= ids

    def register(self, channel: str, sender: Sender, accepts: Callable[[str], bool] | None = None) -> None:
        """`sender(item)` delivers one row or raises; `accepts(target)` limits which targets it takes."""
        self._senders[channel] = (sender, accepts)

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Send what is due now; returns how many rows were delivered."""
        if not self._senders:
            return 0
        now = self.clock()
        items = await self.db.run(outbox.due, list(self._senders), now.isoformat())
        delivered = 0
        for item in items:
            if item.id in self._held:  # its channel is sending it (and everything behind it waits)
                continue
            sender, accepts = self._senders[item.channel]
            if accepts is not None and not accepts(item.target):
                continue
            try:
                await sender(item)
            except Undeliverable as exc:
                await self.db.transact(_undeliverable, item, str(exc), self.clock().isoformat())
                log.warning("outbox.undeliverable id=%s channel=%s reason=%s", item.id, item.channel, exc)
                self.wake()  # its report-back row is due now
                continue
            except RetryLater as exc:
                await self.db.transact(outbox.mark_failed, item.id, str(exc), self.clock(), exc.after)
                log.warning("outbox.retry id=%s channel=%s after=%s reason=%s", item.id, item.channel,
                            exc.after, exc)
                continue
            except Exception as exc:  # a bug or an unexpected answer: retry later, keep going
                await self.db.transact(outbox.mark_failed, item.id, f"{exc.__class__.__name__}: {exc}",
                                       self.clock(), None)
                log.warning("outbox.failed id=%s channel=%s error=%s", item.id, item.channel, exc.__class__.__name__)
                continue
            await self.db.transact(_delivered, item, self.clock().isoformat())
            delivered += 1
            if _follow_up(item, refused=False) is not None:
                self.wake()  # its follow-up row is due now
        return delivered

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; wakes on `wake()` or every poll interval."""
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("outbox.worker_error")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()


def _delivered(conn, item: outbox.Item, now: str) -> None:
    """Mark the row sent and, in the same transaction, queue what must follow its delivery (its
    `then`: e.g. "Delivered to the family" for staff, true only now)."""
    if outbox.mark_sent(conn, item.id, now):
        _queue(conn, _follow_up(item, refused=False), now)


def _undeliverable(conn, item: outbox.Item, reason: str, now: str) -> None:
    """Give the row up, note it on its ticket's timeline, and queue its report-back (its
    `if_undeliverable`: e.g. "The family did not get your reply" in the staff thread)."""
    if not outbox.mark_undeliverable(conn, item.id, reason, now):
        return
    if item.ticket_id is not None:
        tickets.add_event(conn, item.ticket_id, "undelivered", "homeroom",
                          f"not delivered to the family: {reason}", now)
    follow = _follow_up(item, refused=True)
    _queue(conn, follow.because(reason) if follow is not None else None, now)


def _follow_up(item: outbox.Item, refused: bool) -> FollowUp | None:
    """The row to queue once this one is delivered (or, `refused`, given up); only family
    messages have one."""
    if not isinstance(item.message, FamilyMessage):
        return None
    return item.message.if_undeliverable if refused else item.message.then


def _queue(conn, follow: FollowUp | None, now: str) -> None:
    if follow is not None:
        outbox.add(conn, follow.channel, follow.target, follow.message, now, ticket_id=follow.ticket_id)
