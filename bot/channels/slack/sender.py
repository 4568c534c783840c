"""The outbox sender for channel "staff": tickets and their threads in Slack.

`Delivery` calls `SlackSender(item)` for each pending row, in order per ticket, and marks it sent
when the call returns. Kinds (written by the engine, `bot.handoff` and our ticket clock):

- `ticket_new` → one `chat.postMessage` to the topic's channel (urgent: the urgent channel, with
  the configured mention); its "<channel>:<ts>" is stored as the ticket's `staff_ref` at once.
  A row whose ticket already has a `staff_ref` was posted before a crash: it is not posted again.
- `ticket_update` → `chat.update` of that message (status, who, when); a ticket that turned urgent
  outside the urgent channel also gets a pointer posted there, with the mention.
- `ticket_thread`, `ticket_context`, `ticket_reminder` → `chat.postMessage` in the thread.
- `signups_alert`, `signups_digest` (target "signups", written by `bot.signups.staff`) →
  `chat.postMessage` of their text to `[slack] signups_channel` (default: the default channel).
- `absence_notice` (target "absences", written by `bot.absences.notice`) → `chat.postMessage` of
  its text to `[slack.channels] attendance` (default: the default channel).

Errors: no `staff_ref` yet → `RetryLater`; HTTP 429 → `RetryLater(after=Retry-After)` (the client
already waited out one 429 itself); 5xx, network, timeouts → `RetryLater` and a circuit breaker:
while it is open, `accepts()` says no and Delivery leaves every row alone (no request, no attempt
counted), and a probe (`auth.test` after 1 s, doubling up to 15 s) closes it when Slack answers
again, then wakes Delivery. So an outage costs one cheap request per window, not one per pending
ticket, no row uses up its attempts however long it lasts (the outbox gives a row up after 50),
and delivery resumes within ~15 s of Slack's return. Any other Slack error (e.g.
`channel_not_found`) is raised, and Delivery retries it with backoff.
Posts to one Slack channel are paced (~1 per second by default, Slack's own limit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack import blocks
from bot.config import SlackProfile
from bot.delivery import RetryLater
from bot.handoff import reply_promise
from bot.media import MediaFetchers, MediaUnavailable
from bot.outbox_messages import (AbsenceNotice, SignupsAlert, SignupsDigest, TicketContext, TicketNew, TicketReminder,
                                 TicketThread, TicketUpdate, Unreadable)
from bot.signups import staff as signups_staff
from bot.storage import Database, families, outbox, tickets
from bot.understanding.catalog import Catalog
from bot.understanding.language import ENGLISH_NAMES

log = logging.getLogger("bot.slack")
ABSENCES_TARGET = "absences"  # bot.absences.notice.TARGET (not imported: it needs no Slack)

TURNS = 6           # earlier messages shown on a new ticket
HINTS = {"not_in_channel": "invite the Homeroom app to the channel",
         "channel_not_found": "check the channel ids in the school profile's [slack] table, and invite the app",
         "is_archived": "the channel is archived; pick another in the school profile",
         "missing_scope": "add the missing scope under OAuth & Permissions and reinstall the app",
         "invalid_auth": "SLACK_BOT_TOKEN is wrong or was revoked"}
TICKET_MESSAGES = (TicketNew, TicketUpdate, TicketThread, TicketContext, TicketReminder)


class ChannelPacer:
    """At most one post per `interval` seconds to each Slack channel (0: off)."""

    def __init__(self, interval: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.clock = interval, clock
        self._next: dict[str, float] = {}

    async def wait(self, channel: str) -> None:
        if self.interval <= 0:
            return
        now = self.clock()
        ready = self._next.get(channel, now)
        if ready > now:
            await asyncio.sleep(ready - now)
        self._next[channel] = max(ready, now) + self.interval


class SlackSender:
    """`pace`: seconds between posts to one channel. `wake`: called when Slack is back (Delivery.wake).
    `probe_delay`/`max_backoff`: the breaker's first and longest wait between health probes."""

    def __init__(self, client: AsyncWebClient, db: Database, slack: SlackProfile,
                 catalog: Callable[[], Catalog | None] = lambda: None,
                 *, pace: float = 1.0, wake: Callable[[], None] = lambda: None, probe_delay: float = 1.0,
                 max_backoff: float = 15.0,
                 on_posted: Callable[[tickets.Ticket], Awaitable[None]] | None = None,
                 media: MediaFetchers | None = None,
                 translates: Callable[[str], bool] = lambda language: False) -> None:
        self.client, self.db, self.slack = client, db, slack
        self.translates = translates  # a staff reply can be machine translated into this language
        self.catalog = catalog  # the running catalog (a getter: `homeroom reload` replaces it)
        self.on_posted = on_posted  # a new ticket is in Slack now (Handoff.reached_staff)
        self.media = media or MediaFetchers()  # the parents' channels' files (homeroom.media)
        self.pacer = ChannelPacer(pace)
        self.wake = wake
        self.probe_delay, self.max_backoff = probe_delay, max_backoff
        self._probe: asyncio.Future[None] | None = None
        self.posted = 0
        self.probes = 0

    def accepts(self, target: str) -> bool:
        """Delivery asks before each row. While the breaker is open (Slack down) rows are left
        alone — neither sent nor counted as failed attempts — so however long the outage, no
        row uses up its attempts (the outbox gives a row up after 50)."""
        return (target.startswith("ticket:") or target in (signups_staff.TARGET, ABSENCES_TARGET)) \
            and not self.breaker_open()

    def breaker_open(self) -> bool:
        return self._probe is not None and not self._probe.done()

    async def close(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)

    # -- the outbox entry point -----------------------------------------------------------
    async def __call__(self, item: outbox.Item) -> None:
        message = item.message
        if isinstance(message, (SignupsAlert, SignupsDigest)):
            await self._post_signups(message)
            return
        if isinstance(message, AbsenceNotice):
            await self._post_absence(message)
            return
        if not isinstance(message, TICKET_MESSAGES):
            why = message.error if isinstance(message, Unreadable) else "not for staff"
            log.error("slack.unknown_kind id=%s kind=%s error=%s (dropped)", item.id, item.kind, why)
            return
        ticket_id = item.ticket_id or _ticket_from_target(item.target)
        ticket = await self.db.run(tickets.get, ticket_id) if ticket_id else None
        if ticket is None:  # the family's data was deleted: nothing to show staff
            # …but its last line, which carries the thread itself (bot.privacy.family_data)
            if isinstance(message, TicketContext) and message.staff_ref:
                channel, _, ts = message.staff_ref.partition(":")
                await self._post_context(message, channel, ts)
                return
            log.warning("slack.no_ticket id=%s target=%s (dropped)", item.id, item.target)
            return
        if isinstance(message, TicketNew):
            await self._post_ticket(ticket)
            return
        if not ticket.staff_ref:
            raise RetryLater(f"ticket {ticket.id}: its Slack message is not posted yet", after=5.0)
        channel, _, ts = ticket.staff_ref.partition(":")
        if isinstance(message, TicketUpdate):
            await self._update_ticket(ticket, channel, ts, message)
        elif isinstance(message, TicketThread):
            await self._post_thread(message, ticket, channel, ts)
        elif isinstance(message, TicketContext):
            await self._post_context(message, channel, ts)
        elif isinstance(message, TicketReminder):
            text, body = blocks.reminder_message(message.minutes, ticket.priority == "urgent",
                                                 self.slack.urgent_mention)
            await self._call(channel, "chat_postMessage", channel=channel, thread_ts=ts, text=text, blocks=body)

    # -- kinds ------------------------------------------------------------------------------
    async def _post_context(self, message: TicketContext, channel: str, ts: str) -> None:
        text, body = blocks.context_message(message.text)
        await self._call(channel, "chat_postMessage", channel=channel, thread_ts=ts, text=text, blocks=body,
                         unfurl_links=False, unfurl_media=False)

    async def _post_thread(self, message: TicketThread, ticket: tickets.Ticket, channel: str, ts: str) -> None:
        """A later parent message in the ticket's thread. A photo or file comes with it: fetched
        from the parent's channel now and uploaded with the message as its comment (one call,
        so a retry never posts the words twice); what cannot be fetched is named, with why."""
        urgent = bool(message.urgent)
        words = message.text
        english = message.translation
        item = message.media
        if item is not None:
            words = item.with_caption(words)
            english = item.with_caption(english) if english else None
        text, body = blocks.thread_message(words, english, _language_name(message.language or ticket.language),
                                           urgent, self.slack.urgent_mention)
        if item is not None and item.ref:
            try:
                content = await self.media.fetch(message.media_channel, item)
            except MediaUnavailable as exc:
                body = body + [blocks.context_of(f"The parent's {item.kind} could not be forwarded: {exc}. "
                                                 "Ask them to describe it, or to bring it to the office.")[0]]
            else:
                await self._call(channel, "files_upload_v2", channel=channel, thread_ts=ts, content=content,
                                 filename=item.filename or item.kind, title=item.filename or item.kind,
                                 initial_comment=text)
                return
        await self._call(channel, "chat_postMessage", channel=channel, thread_ts=ts, text=text,
                         blocks=body[:blocks.MAX_BLOCKS], reply_broadcast=urgent, unfurl_links=False,
                         unfurl_media=False)

    async def _post_signups(self, message: SignupsAlert | SignupsDigest) -> None:
        """A sign-up alert or the daily digest: plain text from the store (families' names
        among it), escaped so nothing in it pings or links."""
        channel = self.slack.signups_channel or self.slack.default_channel
        raw = message.text
        head, _, rest = raw.partition("\n")
        label = ("*" + blocks.escape(head) + "*") if isinstance(message, SignupsDigest) else ""
        body = blocks.sections(label, rest if label else raw, quote=False)[:blocks.MAX_BLOCKS]
        fallback = blocks.escape(blocks.clip(raw, blocks.MAX_FALLBACK))
        await self._call(channel, "chat_postMessage", channel=channel, text=fallback, blocks=body,
                         unfurl_links=False, unfurl_media=False)

    async def _post_absence(self, message: AbsenceNotice) -> None:
        """An absence a family reported (bot.absences.notice): plain text to the attendance
        channel ([slack.channels] attendance, else the default channel), escaped."""
        channel = self.slack.channels.get("attendance") or self.slack.default_channel
        body = blocks.sections("", message.text, quote=False)[:blocks.MAX_BLOCKS]
        await self._call(channel, "chat_postMessage", channel=channel,
                         text=blocks.escape(blocks.clip(message.text, blocks.MAX_FALLBACK)), blocks=body,
                         unfurl_links=False, unfurl_media=False)

    async def _post_ticket(self, ticket: tickets.Ticket) -> None:
        if ticket.staff_ref:
            log.info("slack.already_posted ticket=%s ref=%s", ticket.id, ticket.staff_ref)
            return
        channel = self.slack.channel_for(ticket.topic, ticket.priority)
        text, body = blocks.ticket_message(await self.card(ticket))
        answer = await self._call(channel, "chat_postMessage", channel=channel, text=text, blocks=body,
                                  unfurl_links=False, unfurl_media=False)
        ref = f"{answer['channel']}:{answer['ts']}"
        await self.db.transact(tickets.set_staff_ref, ticket.id, ref)
        if self.on_posted is not None:
            await self.on_posted(ticket)  # e.g. late, after an outage: the family is told it is there now
        log.info("slack.ticket_posted ticket=%s priority=%s channel=%s", ticket.id, ticket.priority, answer["channel"])

    async def _update_ticket(self, ticket: tickets.Ticket, channel: str, ts: str, update: TicketUpdate) -> None:
        text, body = blocks.ticket_message(await self.card(ticket))
        try:
            await self._call(channel, "chat_update", channel=channel, ts=ts, text=text, blocks=body)
        except SlackApiError as exc:
            if exc.response.get("error") not in ("message_not_found", "cant_update_message"):
                raise
            # someone deleted the ticket's message: post it again, and its thread continues there
            log.warning("slack.ticket_message_gone ticket=%s ref=%s (posting it again)", ticket.id, ticket.staff_ref)
            answer = await self._call(channel, "chat_postMessage", channel=channel, text=text, blocks=body,
                                      unfurl_links=False, unfurl_media=False)
            await self.db.transact(tickets.set_staff_ref, ticket.id, f"{answer['channel']}:{answer['ts']}")
            channel, ts = answer["channel"], answer["ts"]
        urgent_channel = self.slack.urgent_channel
        if update.priority == "urgent" and urgent_channel and urgent_channel != channel:
            link = None
            try:
                link = (await self.client.chat_getPermalink(channel=channel, message_ts=ts)).get("permalink")
            except SlackApiError as exc:
                log.warning("slack.permalink_failed ticket=%s error=%s", ticket.id, exc.response.get("error"))
            text, body = blocks.urgent_pointer(ticket.id, link, self.slack.urgent_mention)
            await self._call(urgent_channel, "chat_postMessage", channel=urgent_channel, text=text, blocks=body)

    async def card(self, ticket: tickets.Ticket) -> blocks.TicketCard:
        """The ticket's message content, read from the store in one trip."""
        def read(conn):
            family = families.get(conn, ticket.family_id)
            events = tickets.events(conn, ticket.id)
            return family, events, tickets.conversation_before(conn, ticket, TURNS)

        family, events, earlier = await self.db.run(read)
        first = next((e for e in events if e[0] == "parent"), None)
        status = next((e for e in reversed(events) if e[0] in ("claimed", "resolved", "open")), None)
        catalog = self.catalog()
        intent = catalog.intents.get(ticket.intent) if catalog is not None and ticket.intent else None
        understood = f"{intent.title} ({ticket.intent})" if intent else ticket.intent
        reason = "" if ticket.reason == f"intent {ticket.intent}" else ticket.reason
        language = ticket.language
        return blocks.TicketCard(
            ticket_id=ticket.id, topic=ticket.topic, priority=ticket.priority, status=ticket.status,
            family=family.display_name if family else None, language=language,
            language_name=_language_name(language), words=first[2] if first else "",
            english=first[4] if first else None, interpreter=ticket.interpreter, understood=understood,
            reason=reason,
            turns=tuple(blocks.Turn("Parent" if d == "in" else "Bot", t, tr if d == "in" else None)
                        for d, t, tr in earlier),
            created_at=_parse(ticket.created_at), status_by=status[1] if status else None,
            status_at=_parse(status[5]) if status else None, note_prefix=self.slack.note_prefix,
            mention=self.slack.urgent_mention if ticket.priority == "urgent" else None,
            reply_promise=reply_promise(language, self.translates(language)))

    # -- calling Slack ----------------------------------------------------------------------
    async def _call(self, pace_key: str, method: str, **kwargs: Any):
        """`client.<method>(**kwargs)`, paced per Slack channel (`pace_key`), errors mapped."""
        if self.breaker_open():
            raise RetryLater("Slack is unavailable; waiting for it to come back")
        await self.pacer.wait(pace_key)
        try:
            answer = await getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if status == 429:
                after = _retry_after(exc.response.headers)
                raise RetryLater(f"Slack rate limit on {method}", after=after) from None
            if status >= 500:
                self._trip()
                raise RetryLater(f"Slack answered HTTP {status} on {method}") from None
            hint = HINTS.get(str(error), "")
            log.warning("slack.api_error method=%s channel=%s status=%s error=%s%s", method, pace_key, status, error,
                        f" ({hint})" if hint else "")
            raise
        except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self._trip()
            raise RetryLater(f"Slack unreachable on {method}: {exc.__class__.__name__}") from None
        self.posted += 1
        return answer

    def _trip(self) -> None:
        """Open the breaker: rows wait while a probe (auth.test, 1 s then doubling up to
        `max_backoff`) checks whether Slack is back; then the outbox is woken."""
        if not self.breaker_open():
            log.warning("slack.unavailable (holding the outbox until Slack answers again)")
            self._probe = asyncio.ensure_future(self._probe_until_up())

    async def _probe_until_up(self) -> None:
        delay = self.probe_delay
        while True:
            await asyncio.sleep(delay)
            self.probes += 1
            try:
                await self.client.auth_test()
                break
            except SlackApiError as exc:
                if exc.response.status_code < 500 and exc.response.status_code != 429:
                    break  # Slack answered (an error of ours is not an outage)
            except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError):
                pass
            delay = min(self.max_backoff, delay * 2)
        log.info("slack.available_again probes=%d", self.probes)
        self._probe = None
        self.wake()


def _retry_after(headers: Any) -> float:
    for key, value in dict(headers or {}).items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                break
    return 1.0


def _ticket_from_target(target: str) -> int | None:
    _, _, number = target.partition(":")
    return int(number) if number.isdigit() else None


def _language_name(code: str) -> str:
    return ENGLISH_NAMES.get(code, code)


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return None
