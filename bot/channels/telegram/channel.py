"""The Telegram channel: a thin python-telegram-bot adapter over the engine.

It parses updates into `Incoming`, hands them to `Engine.handle`, and sends the `Outgoing`
replies back; it never decides what to say. What it does add is delivery discipline:

- **Inbox, nothing lost, nothing twice.** Long polling confirms an update (the next
  `getUpdates` offset) before any handler has run, so every fetched batch is written to the
  inbox table *inside the getUpdates request* (`InboxRequest`), before PTB can confirm it.
  The write tells a first delivery from a duplicate (same `update_id`). A turn happens once:
  the engine's transaction marks the update handled and puts the replies in the outbox, leased
  to this channel, which sends them and marks them sent; after a crash the outbox worker sends
  what is left, and the question is not answered again. On start-up, updates left unhandled
  are handled before polling starts.
- **Order.** `PerChatOrderedProcessor`: one chat's updates one at a time, in order; chats in
  parallel — holding the chat's turn in the engine's `InOrder` around the whole update. Conversation state lives in our SQLite store (no PTB persistence).
- **Private chats only.** In a group the bot says once (remembered in `group_notices`) that
  it works in private chat, with a t.me deep link; other group messages are ignored.
- **Edited messages are ignored, on purpose.** The engine has usually answered the original
  already; answering the edit too would give the parent a second, possibly different answer
  to what looks like one question, and re-running a button flow or a hand-off on a corrected
  typo could repeat its effects. A parent who wants a different answer writes again.
- **Media** (photos, voice, documents, stickers, locations…) go to the engine as
  `Incoming.media` (by Telegram file id, fetched only if forwarded): it answers "text only,
  or talk to a person" in the family's language, or during a hand-off passes them to staff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import (BotCommand, CallbackQuery, ChatMemberUpdated, InlineKeyboardButton,
                      InlineKeyboardMarkup, Message, Update, User)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseRateLimiter, ContextTypes, TypeHandler

from bot.channels.telegram.ordering import PerChatOrderedProcessor, chat_key
from bot.channels.telegram.transport import AiohttpRequest
from bot.channels.telegram.sender import PARALLEL_SENDS, ChatPacer, SendFailed, TelegramSender, mask
from bot.config import ConfigError, Settings
from bot.core.messages import REPLY_KIND, Incoming, utcnow
from bot.i18n import N_
from bot.channels.telegram.media import fetcher as media_fetcher
from bot.channels.telegram.media import media_of
from bot.storage import families, inbox, outbox
from bot.understanding.language import language_from_hint

log = logging.getLogger("bot.telegram")

CHANNEL = "telegram"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
MAX_ATTEMPTS = 3            # start-up replays of one update before it is given up
KEEP_HANDLED = timedelta(days=2)  # Telegram never redelivers an update older than a day
DEEP_LINK_PAYLOAD = "hello"
# A turn's replies are ours to send; the outbox worker takes them over after this long, or at a
# restart. While we are sending, `Delivery.holding` keeps the worker off them however long a 429
# makes us wait, so the lease only has to cover the moment between the commit and the hold.
REPLY_LEASE = 120.0

GROUP_TEXT = N_("Hello! I answer families' questions only in a private chat, so that what you write "
                "stays private. Tap the button below to write to me.")
GROUP_BUTTON = N_("Open a private chat")
# The commands the engine handles; descriptions come from the locale catalogs.
COMMANDS = (
    ("start", N_("Welcome and main menu")),
    ("help", N_("What I can help with")),
    ("language", N_("Choose your language")),
    ("human", N_("Talk to a person")),
    ("volunteer", N_("Volunteer sign-up")),
    ("conference", N_("Book a parent–teacher conference")),
    ("mysignups", N_("My sign-ups: change or cancel")),
    ("myabsences", N_("Absences I reported")),  # only when the school takes absences in the chat
    ("privacy", N_("What we keep about you, and why")),
    ("mydata", N_("See everything we hold about you")),
    ("forgetme", N_("Delete your data")),
)

FLOW_COMMANDS = frozenset({"myabsences"})  # commands a school can switch off with their flow

Effect = Callable[[Any, str], object]  # runs in the transaction that marks the update handled


@dataclass
class _Result:
    outcome: str
    sent: int = 0
    effect: Effect | None = None
    committed: bool = False  # "handled" was already written, in the engine's transaction


class InboxRequest(AiohttpRequest):
    """The getUpdates connection, which writes each fetched batch to the inbox before returning
    it to PTB's Updater — and so before the next `getUpdates` offset confirms it to Telegram.
    If the inbox cannot be written, the fetch fails as a network error: PTB backs off and asks
    again, and Telegram still holds the updates."""

    def __init__(self, record: Callable[[list[dict[str, Any]]], Awaitable[None]],
                 on_poll: Callable[[], None] = lambda: None, **kwargs: Any) -> None:
        super().__init__(connection_pool_size=1, **kwargs)
        self._record, self._on_poll = record, on_poll

    async def post(self, url: str, request_data=None, *args: Any, **kwargs: Any):
        result = await super().post(url, request_data, *args, **kwargs)
        if url.endswith("/getUpdates"):
            self._on_poll()  # Telegram answered: the channel is connected
        if isinstance(result, list) and result and url.endswith("/getUpdates"):
            try:
                # shielded: PTB cancels the poll on stop, and a caller cancelled inside the store's
                # group commit would fail the other units of its batch; the write finishes anyway
                await asyncio.shield(self._record(result))
            except Exception as exc:
                log.error("telegram.inbox_write_failed count=%d error=%s", len(result), exc.__class__.__name__)
                raise NetworkError(f"inbox unavailable ({exc.__class__.__name__})") from exc
        return result


class TelegramChannel:
    """The running Telegram adapter: `await start()` … `await stop()` (or `async with`)."""

    def __init__(self, settings: Settings, homeroom, *, pace: float = 1.0, pace_burst: int = 3,
                 rate_limiter: BaseRateLimiter | None = None, max_concurrent_updates: int = 1024,
                 send_retries: int = 2, parallel_sends: int = PARALLEL_SENDS, channel_health=None) -> None:
        if not settings.telegram_token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.homeroom = homeroom
        self.engine = homeroom.engine
        self.db = homeroom.db
        self.profile = homeroom.profile
        self.locales = homeroom.engine.locales
        self.processor = PerChatOrderedProcessor(homeroom.engine.in_order, CHANNEL, max_concurrent_updates)
        self.application: Application = (
            ApplicationBuilder()
            .token(settings.telegram_token)
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_api_file_url)
            .rate_limiter(rate_limiter if rate_limiter is not None else AIORateLimiter(max_retries=2))
            .concurrent_updates(self.processor)
            # the sender keeps at most parallel_sends in flight
            .request(AiohttpRequest(connection_pool_size=parallel_sends + 4, pool_timeout=10.0))
            .get_updates_request(InboxRequest(self._record_fetched, self._polled))
            .job_queue(None)  # reminders and scheduled sends come later (store-backed)
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(self.application.bot, ChatPacer(pace, pace_burst), retries=send_retries,
                                     parallel=parallel_sends)
        self.outcomes: Counter[str] = Counter()
        self.username: str | None = None
        self._initialized = False
        self._fresh: set[int] = set()  # ids this process recorded at fetch and has not handled yet
        self.webhook = None  # the WebhookServer in webhook mode
        self.channel_health = channel_health  # bot.ops.status.ChannelHealth, reported into when given
        # GET /healthz in webhook mode: () -> is the bot green? (the public port says only ok/unavailable)
        self.health: Callable[[], Awaitable[bool]] | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, poll_timeout: float = 10.0, poll_interval: float = 0.0) -> None:
        """getMe, prune the inbox, register commands, handle what a crash left, then receive:
        long polling, or webhook mode when TELEGRAM_WEBHOOK_URL is set."""
        app = self.application
        await app.initialize()
        self._initialized = True
        self.username = app.bot.username
        pruned = await self.db.transact(inbox.prune, CHANNEL, (utcnow() - KEEP_HANDLED).isoformat())
        if pruned:
            log.info("telegram.inbox_pruned count=%d", pruned)
        await self.register_commands()
        self.homeroom.media.register(CHANNEL, media_fetcher(app.bot))  # staff tools forward parents' files
        await app.start()
        await self.recover()
        if self.settings.telegram_webhook_url:
            await self._start_webhook()
        else:
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=poll_interval, timeout=poll_timeout,
                                            allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False,
                                            error_callback=self._on_poll_error)
        log.info("telegram.started bot=@%s mode=%s languages=%s", self.username,
                 "webhook" if self.webhook else "polling", ",".join(self.profile.languages))

    async def _start_webhook(self) -> None:
        """Listen first, then tell Telegram where to send: no update can arrive unanswered.
        The webhook stays set on stop, so Telegram holds updates while we are down."""
        from bot.channels.telegram.webhook import WebhookServer, default_secret, webhook_path

        url = self.settings.telegram_webhook_url
        assert url is not None and self.settings.telegram_token
        secret = self.settings.telegram_webhook_secret or default_secret(self.settings.telegram_token)
        self.webhook = WebhookServer(webhook_path(url), secret, self.settings.telegram_webhook_listen,
                                     self._accept_webhook, self.health)
        await self.webhook.start()
        await self.application.bot.set_webhook(url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES),
                                               drop_pending_updates=False, max_connections=40)
        if self.channel_health is not None:
            self.channel_health.set(CHANNEL, True, "webhook")

    async def _accept_webhook(self, raw: dict[str, Any]) -> bool:
        """Store one POSTed update and queue it if it is new (see webhook.py)."""
        if raw["update_id"] not in await self._record_fetched([raw]):
            return False
        await self.application.update_queue.put(Update.de_json(raw, self.application.bot))
        return True

    async def stop(self) -> None:
        """Stop polling, finish the updates in flight (their replies too), release PTB.
        The store is the caller's to close (after this returns)."""
        app = self.application
        self.homeroom.media.unregister(CHANNEL)
        if self.webhook is not None:
            await self.webhook.stop()
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        if self._initialized:
            await app.shutdown()
            self._initialized = False
        else:  # getMe failed (bad token, no network): close the HTTP clients it opened
            await app.bot.shutdown()
        log.info("telegram.stopped outcomes=%s", ",".join(f"{k}:{v}" for k, v in sorted(self.outcomes.items())))

    async def __aenter__(self) -> "TelegramChannel":
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def deep_link(self) -> str:
        return f"https://t.me/{self.username}?start={DEEP_LINK_PAYLOAD}"

    async def register_commands(self) -> None:
        """The command menu in English (the default) and in every offered language with a
        curated translation; Telegram shows each user the list in their app's language."""
        bot = self.application.bot
        # a flow's command is offered only when the flow is on ([absences] enabled = false: no /myabsences)
        commands = [(name, text) for name, text in COMMANDS if name not in FLOW_COMMANDS or name in self.engine.flows]
        english = [BotCommand(name, self.locales.text("en", text)) for name, text in commands]
        try:
            await bot.set_my_commands(english)
            for lang in self.profile.languages:
                if lang == "en":
                    continue
                curated = [self.locales.lookup(lang, text) for _, text in commands]
                if not any(curated):
                    continue  # Telegram falls back to the default list
                await bot.set_my_commands([BotCommand(name, local or fallback.description)
                                           for (name, _), local, fallback in zip(commands, curated, english)],
                                          language_code=lang)
        except TelegramError as exc:  # the bot still works without its command menu
            log.warning("telegram.commands_failed error=%s", exc.__class__.__name__)

    async def recover(self) -> int:
        """Handle the updates a previous run received but did not finish, in order per chat,
        before polling starts; replies a previous run committed but did not send go to the
        outbox worker at once. Returns how many updates were replayed."""
        released = await self.db.transact(outbox.release_leases, CHANNEL, REPLY_KIND, utcnow().isoformat())
        if released:
            log.info("telegram.replies_released count=%d", released)
        rows, given_up = await self.db.transact(inbox.take_unhandled, CHANNEL, utcnow().isoformat(), MAX_ATTEMPTS)
        for update_id in given_up:
            log.error("telegram.gave_up update_id=%s attempts=%d", update_id, MAX_ATTEMPTS)
        queued = 0
        for row in rows:
            try:
                update = Update.de_json(json.loads(row.payload), self.application.bot)
            except Exception as exc:
                log.error("telegram.unreadable update_id=%s error=%s", row.update_id, exc.__class__.__name__)
                await self.db.transact(inbox.finish, CHANNEL, row.update_id, "unreadable", utcnow().isoformat())
                continue
            await self.application.update_queue.put(update)
            queued += 1
        if queued:
            await self.application.update_queue.join()
            log.info("telegram.recovered count=%d", queued)
        return queued

    # -- receiving -----------------------------------------------------------------------
    async def _record_fetched(self, updates: list[dict[str, Any]]) -> list[int]:
        """Write received updates to the inbox; returns (and remembers as not yet handled) the
        ids it did not know — the others are redeliveries."""
        rows = [(u["update_id"], _raw_chat_id(u), json.dumps(u, ensure_ascii=False)) for u in updates
                if isinstance(u, dict) and "update_id" in u]
        new = await self.db.transact(inbox.record, CHANNEL, rows, utcnow().isoformat())
        self._fresh.update(new)
        return new

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        started = time.perf_counter()
        chat = chat_key(update)
        result = _Result("error")
        try:
            if update.update_id in self._fresh:  # just written by this process's fetch: not handled
                self._fresh.discard(update.update_id)
                state = inbox.PENDING
            else:  # a redelivery, a replay, or an update that did not come through our poll
                state = await self.db.transact(inbox.claim, CHANNEL, update.update_id,
                                               None if chat is None else str(chat), update.to_json,
                                               utcnow().isoformat())
            if state == inbox.HANDLED:
                result = _Result("duplicate")
                return
            result = await self._dispatch(update)
            if not result.committed:
                await self.db.transact(_finish, update.update_id, result.outcome, result.effect, utcnow().isoformat())
        except SendFailed as exc:
            log.warning("telegram.send_failed update_id=%s chat=%s permanent=%s reason=%s", update.update_id,
                        mask(chat), exc.permanent, exc.reason)
            result = _Result("undeliverable" if exc.permanent else "send_failed")
            if exc.permanent:  # retrying will not help: do not replay it at every start
                await self.db.transact(_finish, update.update_id, result.outcome, None, utcnow().isoformat())
        except Exception:
            # left unhandled: the next start replays it (at most MAX_ATTEMPTS times)
            log.exception("telegram.update_error update_id=%s chat=%s", update.update_id, mask(chat))
            result = _Result("error")
        finally:
            self.outcomes[result.outcome] += 1
            log.info("telegram.update update_id=%s kind=%s chat=%s outcome=%s sent=%d latency_ms=%.1f",
                     update.update_id, _kind(update), mask(chat), result.outcome, result.sent,
                     (time.perf_counter() - started) * 1000)

    async def _dispatch(self, update: Update) -> _Result:
        """Route one update. Edited messages are ignored on purpose: the original was usually
        answered already, and answering the edit too gives a second, confusing answer (or
        repeats a flow's effects); a parent who wants another answer writes again."""
        if update.edited_message is not None:
            return _Result("ignored_edit")  # see the module docstring: a second answer confuses
        if update.my_chat_member is not None:
            return await self._on_membership(update.my_chat_member)
        if update.callback_query is not None:
            return await self._on_callback(update.callback_query, update.update_id)
        message = update.message
        if message is None:
            return _Result("ignored_kind")
        chat, user = message.chat, message.from_user
        if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
            return await self._group_notice(chat.id, user)
        if chat.type != ChatType.PRIVATE or user is None or user.is_bot:
            return _Result("ignored_chat")
        if message.text is not None:
            return await self._converse(Incoming(
                CHANNEL, str(user.id), str(chat.id), message.text, message_id=str(message.message_id),
                display_name=user.first_name, language_hint=user.language_code), update.update_id)
        item = media_of(message)
        if item is not None:  # the engine answers "text only", or passes it to staff in a hand-off
            return await self._converse(Incoming(
                CHANNEL, str(user.id), str(chat.id), message.caption or "", message_id=str(message.message_id),
                display_name=user.first_name, language_hint=user.language_code, media=item), update.update_id)
        return _Result("ignored_service")  # joins, pins and other service messages

    async def _on_callback(self, query: CallbackQuery, update_id: int) -> _Result:
        await self._answer(query)
        message, user = query.message, query.from_user
        chat = message.chat if message is not None else None
        if chat is not None and chat.type != ChatType.PRIVATE:
            return _Result("ignored_chat")
        if query.data is None:
            return _Result("ignored_callback")
        # The button's label is what the parent "said" (message log, a ticket's words).
        # An inaccessible (deleted, too old) message has no keyboard: the payload alone goes on,
        # and the engine answers an expired option itself.
        label = _label_for(message, query.data)
        return await self._converse(Incoming(
            CHANNEL, str(user.id), str(chat.id if chat is not None else user.id), label or "",
            payload=query.data, message_id=str(message.message_id) if message is not None else None,
            display_name=user.first_name, language_hint=user.language_code), update_id)

    async def _answer(self, query: CallbackQuery) -> None:
        """Stop the button's spinner. A replayed (old) query cannot be answered any more."""
        try:
            await self.sender.unpaced(query.answer)
        except TelegramError as exc:
            log.debug("telegram.callback_answer_failed error=%s", exc.__class__.__name__)

    async def _on_membership(self, member: ChatMemberUpdated) -> _Result:
        chat, status = member.chat, member.new_chat_member.status
        if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
            if status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR):
                return await self._group_notice(chat.id, member.from_user)
            if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
                chat_id = str(chat.id)
                return _Result("group_left", effect=lambda conn, now: inbox.forget_group(conn, CHANNEL, chat_id))
            return _Result("ignored_member")
        if chat.type == ChatType.PRIVATE:
            # the family blocked (kicked) or unblocked the bot; nothing to send either way
            return _Result("blocked" if status == ChatMemberStatus.BANNED else "unblocked")
        return _Result("ignored_member")

    async def _group_notice(self, chat_id: int, user: User | None) -> _Result:
        """Once per group: the bot works in private chat; a button opens it."""
        if await self.db.run(inbox.group_notified, CHANNEL, str(chat_id)):
            return _Result("ignored_group")
        lang = language_from_hint(user.language_code if user else None,
                                  self.profile.languages) or self.profile.default_language
        button = InlineKeyboardButton(self.locales.text(lang, GROUP_BUTTON), url=self.deep_link)
        await self.sender.send_text(chat_id, self.locales.text(lang, GROUP_TEXT),
                                    reply_markup=InlineKeyboardMarkup([[button]]))
        key = str(chat_id)
        return _Result("group_notice", 1, effect=lambda conn, now: inbox.remember_group(conn, CHANNEL, key, now))

    async def _converse(self, incoming: Incoming, update_id: int) -> _Result:
        """One turn, exactly once: the engine's transaction also marks the update handled and
        writes the replies to the outbox, leased to us; we send them, marking each one sent as
        soon as Telegram confirmed it. If we die in between, the outbox worker sends what is
        left (after a restart, at once) — and only that.

        Order: when an older row to this chat still waits in the outbox (a previous process
        died before sending it, a send failed, staff wrote), this turn's replies are handed to
        the worker behind it instead of overtaking it. The check reads the store, in the turn's
        own transaction, so it holds across restarts."""
        waiting: list[int | None] = [None]

        def handled(conn, now: str) -> None:
            inbox.finish(conn, CHANNEL, update_id, "replied", now)
            waiting[0] = outbox.first_pending(conn, CHANNEL, incoming.chat_id)

        replies = await self.engine.handle(incoming, after=handled, lease=REPLY_LEASE)  # never raises
        committed = bool(replies) and replies[0].outbox_id is not None
        if committed and waiting[0] is not None and waiting[0] < replies[0].outbox_id:
            await self.db.transact(outbox.release, [r.outbox_id for r in replies], utcnow().isoformat())
            self._wake_worker()
            return _Result("queued_behind", 0, committed=True)
        with self._holding(replies if committed else []):
            return await self._send_turn(replies, committed, update_id)

    async def _send_turn(self, replies: list, committed: bool, update_id: int) -> _Result:
        """Send a turn's replies in order, each marked sent as soon as Telegram confirmed it; on a
        failure the rest go to the worker (or are given up for good: blocked, chat gone)."""
        sent = 0
        for index, reply in enumerate(replies):
            try:
                sent += await self.sender.send(_chat_id(reply.chat_id), reply)
            except SendFailed as exc:
                if not committed:
                    raise
                rest = [r.outbox_id for r in replies[index:] if r.outbox_id is not None]
                now = utcnow().isoformat()
                if exc.permanent:  # blocked or chat gone: nothing left to deliver, ever
                    await self.db.transact(lambda conn: [outbox.mark_undeliverable(conn, i, exc.reason, now)
                                                         for i in rest])
                else:  # the worker takes over now, with its backoff; later replies queue behind
                    await self.db.transact(outbox.release, rest, now)
                    self._wake_worker()
                log.warning("telegram.send_deferred update_id=%s permanent=%s reason=%s", update_id, exc.permanent,
                            exc.reason)
                return _Result("undeliverable" if exc.permanent else "send_deferred", sent, committed=True)
            if reply.outbox_id is not None:  # sent: never again, even if we die before the next one
                await self.db.transact(outbox.mark_sent, reply.outbox_id, utcnow().isoformat())
        return _Result("replied", sent, committed=committed)

    def _holding(self, replies: list) -> AbstractContextManager[None]:
        delivery = getattr(self.homeroom, "delivery", None)
        return delivery.holding(r.outbox_id for r in replies) if delivery is not None else nullcontext()

    def _wake_worker(self) -> None:
        if getattr(self.homeroom, "delivery", None) is not None:
            self.homeroom.delivery.wake()

    async def deliver(self, chat_id: str, reply) -> int:
        """Send one `Outgoing` outside a conversation turn (e.g. for an outbox worker)."""
        return await self.sender.send(_chat_id(chat_id), reply)

    async def _family_language(self, user: User) -> str:
        """The family's chosen or detected language; else their app's; else the school's default."""
        family = await self.db.run(families.find, CHANNEL, str(user.id))
        if family is not None and family.language:
            return family.language
        return language_from_hint(user.language_code, self.profile.languages) or self.profile.default_language

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # _on_update catches everything; this is for errors PTB raises around it
        log.error("telegram.error update_id=%s error=%s", getattr(update, "update_id", "-"),
                  context.error.__class__.__name__)

    def _on_poll_error(self, exc: TelegramError) -> None:
        # one line, no traceback: PTB retries with back-off by itself
        log.warning("telegram.poll_error error=%s detail=%s", exc.__class__.__name__, exc)
        if self.channel_health is not None:
            self.channel_health.set(CHANNEL, False, f"polling failed: {exc.__class__.__name__}")

    def _polled(self) -> None:
        if self.channel_health is not None:
            self.channel_health.set(CHANNEL, True, "long polling")


def _finish(conn, update_id: int, outcome: str, effect: Effect | None, now: str) -> None:
    """The adapter's own effects (a group remembered) and "handled", in one transaction."""
    if effect is not None:
        effect(conn, now)
    inbox.finish(conn, CHANNEL, update_id, outcome, now)


def _label_for(message: object, data: str) -> str | None:
    if isinstance(message, Message) and message.reply_markup is not None:
        for row in message.reply_markup.inline_keyboard:
            for button in row:
                if button.callback_data == data:
                    return button.text
    return None


def _kind(update: Update) -> str:
    for kind in ALLOWED_UPDATES:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


def _raw_chat_id(raw: dict[str, Any]) -> str | None:
    """The chat of a raw update (as JSON), for the inbox row."""
    for kind in ("message", "edited_message", "my_chat_member"):
        chat = (raw.get(kind) or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return str(chat["id"])
    query = raw.get("callback_query") or {}
    chat = (query.get("message") or {}).get("chat") or {}
    if "id" in chat:
        return str(chat["id"])
    user = query.get("from") or {}
    return str(user["id"]) if "id" in user else None


def _chat_id(chat_id: str | int) -> int | str:
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return chat_id


def build_channel(settings: Settings, homeroom, **options: Any) -> TelegramChannel:
    """The Telegram channel over a started Homeroom (`bot.app.start`). Options: `pace` (seconds
    between messages to one chat, 0 = off), `pace_burst`, `rate_limiter`, `max_concurrent_updates`,
    `send_retries`, `parallel_sends` (API calls in flight at once)."""
    return TelegramChannel(settings, homeroom, **options)


def build_application(settings: Settings, homeroom, **options: Any) -> Application:
    """The PTB Application alone (for tools that drive it themselves; `build_channel` also
    registers commands, recovers the inbox and polls)."""
    return build_channel(settings, homeroom, **options).application


class TelegramUnreachable(Exception):
    """The Bot API could not be reached at start-up (already logged and printed): the runner goes
    on without Telegram rather than knowing python-telegram-bot's errors."""


async def start_channel(channel: TelegramChannel, settings: Settings) -> None:
    """`channel.start()` with the two start-up failures a school's IT person can fix named."""
    try:
        await channel.start()
    except InvalidToken:
        raise ConfigError("TELEGRAM_BOT_TOKEN was refused by Telegram (unauthorized); "
                          "check the token from @BotFather") from None
    except NetworkError as exc:
        log.error("telegram.unreachable url=%s error=%s", settings.telegram_api_base_url, exc)
        print(f"homeroom: cannot reach the Telegram Bot API at {settings.telegram_api_base_url} "
              f"({exc}); check the network or TELEGRAM_API_BASE_URL", file=sys.stderr)
        raise TelegramUnreachable(str(exc)) from exc


def webhook_health(homeroom, health) -> Callable[[], Awaitable[bool]]:
    """`GET /healthz` on the public webhook port: green or not, by the same rules as `homeroom
    status` — but only that bit leaves here. The details (paths, counts, reasons) would tell the
    internet about the school's server, so they stay on `HOMEROOM_HEALTH_LISTEN`."""
    from bot.ops.status import status_source

    source = status_source(homeroom, health)

    async def healthy() -> bool:
        return (await source()).ok
    return healthy


def register_outbox(homeroom, channel: TelegramChannel, staff_tool: bool = False) -> None:
    """Deliver the outbox's Telegram rows (staff replies, promotions, reminders — with their
    buttons) through this channel. Without a staff tool (Slack), staff rows need no posting:
    staff use `homeroom tickets`."""
    from bot.delivery import RetryLater, Undeliverable
    from bot.outbox_messages import to_family

    async def send(item) -> None:
        reply = to_family(item.message, CHANNEL, item.target)
        try:
            await channel.deliver(item.target, reply)
        except SendFailed as exc:
            if exc.permanent:  # never marked sent: "Delivered" is not written, staff hear why
                raise Undeliverable(f"Telegram refused it ({exc.reason})") from exc
            raise RetryLater(f"telegram: {exc.reason}") from exc

    async def no_staff_tool(item) -> None:
        """Tickets are in the store; staff work from `homeroom tickets`."""

    homeroom.delivery.register(CHANNEL, send)
    if not staff_tool:
        homeroom.delivery.register("staff", no_staff_tool)
