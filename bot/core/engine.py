"""The conversation engine: `handle(Incoming) -> list[Outgoing]`, for every channel.

The path of a message: load the family and its state (store, or the engine's cache of
recent families) -> route (a button pick, a command, an active flow, or free text for the
matcher) -> replies -> one transaction that saves state, the message log and side effects
(tickets). The save checks the state's version, so a cached state that someone else changed
meanwhile is detected and the turn is redone from the store. Everything runs inside one
error boundary: a failure is logged with a reference and the parent gets an apology.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.config import SchoolProfile
from bot.core.dialog import Turn
from bot.core.messages import Choice, Incoming, Outgoing, utcnow
from bot.i18n import N_, Locales
from bot.storage import Database
from bot.storage import conversations, families, message_log, tickets
from bot.understanding.catalog import Catalog
from bot.understanding.language import LANGUAGE_NAMES, language_from_hint
from bot.understanding.matcher import Classification, Matcher
from bot.understanding.normalize import clean_text, normalize

log = logging.getLogger("bot.engine")

MAX_TEXT = 4000
MENU_WORDS = {"menu", "main menu", "help", "start", "options", "menú", "menu principal", "ayuda",
              "inicio", "opciones", "菜单", "帮助", "thuc don", "tro giup", "القائمة", "مساعدة",
              "meni", "ed", "caawin", "ajuda", "меню", "помощь"}
HUMAN_TEXT = N_("Talk to a person")
MENU_TEXT = N_("Main menu")
OTHER_TEXT = N_("Something else")


class Engine:
    def __init__(self, db: Database, catalog: Catalog, matcher: Matcher, profile: SchoolProfile,
                 locales: Locales, clock: Callable[[], datetime] = utcnow, cache_size: int = 10_000) -> None:
        self.db = db
        self.catalog = catalog
        self.matcher = matcher
        self.profile = profile
        self.locales = locales
        self.clock = clock
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        # Recent families' state, checked against the stored version when the turn is saved.
        self._cache: OrderedDict[tuple[str, str], tuple[families.Family, conversations.ConversationState]] = OrderedDict()
        self.cache_size = cache_size
        self._answers = {i: catalog.render_answer(i, profile.info)
                         for i, intent in catalog.intents.items() if intent.answer}

    # -- entry point ---------------------------------------------------------------------
    async def handle(self, incoming: Incoming) -> list[Outgoing]:
        """Answer one parent message. Never raises: errors become an apology with a reference."""
        started = time.perf_counter()
        turn: Turn | None = None
        outcome = "ok"
        key = (incoming.channel, incoming.user_id)
        try:
            async with self._lock_for(incoming):
                for attempt in (1, 2):
                    turn = await self._begin(incoming, use_cache=attempt == 1)
                    await self._route(turn)
                    try:
                        await self._finish(turn)
                        break
                    except conversations.StaleState:
                        # someone else changed this family since we cached it: start over from the store
                        self._cache.pop(key, None)
                        if attempt == 2:
                            raise
                self._remember(key, turn)
            return turn.replies
        except Exception:
            self._cache.pop(key, None)
            ref = uuid.uuid4().hex[:8].upper()
            outcome = f"error ref={ref}"
            log.exception("engine.error ref=%s channel=%s user=%s", ref, incoming.channel,
                          _mask(incoming.user_id))
            lang = turn.lang if turn else (language_from_hint(incoming.language_hint,
                                                              self.profile.languages) or "en")
            text = self.locales.text(lang, N_(
                "Sorry, something went wrong on our side and the school team has been notified "
                "(reference {ref}). Please try again in a moment, or call the office at {office_phone}."),
                {"ref": ref, **self.profile.info})
            return [Outgoing(incoming.channel, incoming.chat_id, text, language=lang)]
        finally:
            log.info("message.handled channel=%s family=%s intent=%s decision=%s confidence=%s "
                     "lang=%s outcome=%s latency_ms=%.1f", incoming.channel,
                     turn.family.id if turn else "-", turn.intent if turn else "-",
                     turn.decision if turn else "-",
                     f"{turn.confidence:.2f}" if turn and turn.confidence is not None else "-",
                     turn.lang if turn else "-", outcome, (time.perf_counter() - started) * 1000)
            if turn is not None:
                log.debug("message.text family=%s text=%r", turn.family.id, incoming.text)

    def _remember(self, key: tuple[str, str], turn: Turn) -> None:
        """Keep the family and state this turn saved, so its next message needs no read."""
        self._cache[key] = (turn.family, turn.state)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _lock_for(self, incoming: Incoming) -> "_FamilyLock":
        return _FamilyLock(self._locks, (incoming.channel, incoming.user_id))

    async def _begin(self, incoming: Incoming, use_cache: bool = True) -> Turn:
        now = self.clock()
        stamp = now.isoformat()
        cached = self._cache.get((incoming.channel, incoming.user_id)) if use_cache else None
        if cached is not None:  # work on copies: a failed turn must not leave the cache changed
            family, state = replace(cached[0]), replace(cached[1], data=copy.deepcopy(cached[1].data),
                                                        choices=list(cached[1].choices))
            return Turn(incoming, family, state, family.language or self.profile.default_language, now)

        def load(conn):
            family = families.find(conn, incoming.channel, incoming.user_id)
            return family, (conversations.load(conn, family.id) if family else None)

        family, state = await self.db.run(load)
        if family is None:
            lang = language_from_hint(incoming.language_hint, self.profile.languages)

            def create(conn):
                return families.find(conn, incoming.channel, incoming.user_id) or families.create(
                    conn, incoming.channel, incoming.user_id, incoming.chat_id, incoming.display_name,
                    lang or self.profile.default_language, "hint" if lang else "default", stamp)

            family = await self.db.transact(create)
            state = conversations.ConversationState(family.id)
        return Turn(incoming, family, state, family.language or self.profile.default_language, now)

    async def _finish(self, turn: Turn) -> None:
        """Everything the turn wrote, in one transaction (and one trip to the database thread)."""
        stamp = turn.now.isoformat()
        inc = turn.incoming
        if turn.replies and turn.replies[-1].choices:
            turn.state.choices = [c.payload for c in turn.replies[-1].choices]

        def write(conn):
            if not families.touch(conn, turn.family, inc.chat_id, inc.display_name, stamp):
                raise conversations.StaleState(turn.family.id)  # the family was deleted meanwhile
            message_log.append(conn, turn.family.id, "in", inc.text or (inc.payload or ""), stamp,
                               language=turn.lang, intent=turn.intent, confidence=turn.confidence)
            for reply in turn.replies:
                message_log.append(conn, turn.family.id, "out", reply.text, stamp, language=reply.language)
            for effect in turn.effects:
                effect(conn, stamp)
            conversations.save(conn, turn.state, stamp)

        await self.db.transact(write)

    # -- routing -------------------------------------------------------------------------
    async def _route(self, turn: Turn) -> None:
        inc = turn.incoming
        if inc.payload is not None:
            await self._on_payload(turn, inc.payload)
            return
        text = clean_text(inc.text)[:MAX_TEXT]
        if not text:
            turn.decision = "empty"
            turn.say(self.t(turn, N_("I didn't get any text. Type your question, or pick a topic:")),
                     self._menu_choices(turn))
            return
        if text.startswith("/"):
            await self._on_command(turn, text)
            return
        norm = normalize(text)
        if norm in MENU_WORDS:
            self._welcome(turn, greet=False)
            return
        if turn.state.flow == "language":
            code = self._language_from_text(norm)
            if code:
                await self._set_language(turn, code)
                return
            turn.state.flow = None
        await self._on_text(turn, text)

    async def _on_command(self, turn: Turn, text: str) -> None:
        command, _, arg = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()
        if command in ("start", "menu", "help"):
            arg = arg.strip().lower()
            if arg and arg in self.catalog and arg != "out_of_scope":
                await self._answer(turn, arg)
            else:
                self._welcome(turn, greet=command == "start")
        elif command == "language":
            self._ask_language(turn)
        elif command == "human":
            await self._handoff(turn, reason="asked for a person", intent="talk_to_human", priority="normal")
        else:
            turn.decision = "unknown_command"
            turn.say(self.t(turn, N_("I don't know that command. Here is what I can help with:")),
                     self._menu_choices(turn))

    async def _on_payload(self, turn: Turn, payload: str) -> None:
        if payload not in turn.state.choices:
            turn.decision = "stale_choice"
            turn.say(self.t(turn, N_("Sorry, that option has expired. Here is the menu:")),
                     self._menu_choices(turn))
            return
        kind, _, value = payload.partition(":")
        if kind == "intent" and value in self.catalog:
            await self._answer(turn, value)
        elif kind == "lang" and value in self.profile.languages:
            await self._set_language(turn, value)
        elif kind == "human":
            await self._handoff(turn, reason="asked for a person", intent="talk_to_human", priority="normal")
        elif kind == "language":
            self._ask_language(turn)
        elif kind == "other":
            turn.decision = "other"
            turn.say(self.t(turn, N_("Could you tell me your question in other words? "
                                     "Or I can pass it to a person at the school.")),
                     [Choice(self.t(turn, HUMAN_TEXT), "human"), Choice(self.t(turn, MENU_TEXT), "menu")])
        else:  # "menu" and anything we no longer know
            self._welcome(turn, greet=False)

    async def _on_text(self, turn: Turn, text: str) -> None:
        result = self.matcher.classify(text, turn.lang)
        turn.confidence = result.confidence
        turn.decision = result.decision
        if result.decision == "answer" and result.intent:
            await self._answer(turn, result.intent, result)
        elif result.decision == "clarify":
            turn.state.misses = 0
            choices = [Choice(self.t(turn, self.catalog[i].title), f"intent:{i}") for i in result.candidate_ids]
            choices.append(Choice(self.t(turn, OTHER_TEXT), "other"))
            turn.say(self.t(turn, N_("I want to be sure I understand. Did you mean:")), choices)
        else:
            self._dont_know(turn, result)

    # -- replies -------------------------------------------------------------------------
    def t(self, turn: Turn, msgid: str, **values: object) -> str:
        return self.locales.text(turn.lang, msgid, {**self.profile.info, **values})

    def _menu_choices(self, turn: Turn) -> list[Choice]:
        return [Choice(self.t(turn, self.catalog[i].title), "human" if i == "talk_to_human" else f"intent:{i}")
                for i in self.profile.menu if i in self.catalog]

    def _answer_text(self, turn: Turn, intent_id: str) -> str:
        template = self.catalog[intent_id].answer or ""
        curated = self.locales.lookup(turn.lang, template)
        if curated is not None:
            return self.locales.text(turn.lang, template, self.profile.info)
        return self._answers.get(intent_id, "")

    def _welcome(self, turn: Turn, greet: bool) -> None:
        turn.decision = turn.decision or "menu"
        turn.state.flow = None
        turn.state.misses = 0
        text = (self._answer_text(turn, "greeting") if greet and "greeting" in self.catalog
                else self.t(turn, N_("Here is what I can help with. Pick a topic or type your question:")))
        choices = self._menu_choices(turn)
        if greet:
            choices.append(Choice(LANGUAGE_NAMES.get(turn.lang, turn.lang) + " · 🌐", "language"))
        turn.say(text, choices)

    async def _answer(self, turn: Turn, intent_id: str, result: Classification | None = None) -> None:
        intent = self.catalog[intent_id]
        turn.intent = intent_id
        turn.decision = turn.decision or "answer"
        turn.state.misses = 0
        if intent_id == "greeting":
            self._welcome(turn, greet=True)
            return
        if intent.flow == "language":
            self._ask_language(turn)
            return
        if intent.handoff or intent_id == "talk_to_human":
            await self._handoff(turn, reason=f"intent {intent_id}", intent=intent_id,
                                priority=intent.handoff or "normal", answer_first=intent_id != "talk_to_human")
            return
        choices = [Choice(self.t(turn, self.catalog[c].title), f"intent:{c}")
                   for c in intent.choices if c in self.catalog]
        if choices:
            choices.append(Choice(self.t(turn, MENU_TEXT), "menu"))
        turn.say(self._answer_text(turn, intent_id), choices)

    def _dont_know(self, turn: Turn, result: Classification) -> None:
        turn.state.misses += 1
        human = Choice(self.t(turn, HUMAN_TEXT), "human")
        menu = Choice(self.t(turn, MENU_TEXT), "menu")
        if result.out_of_scope:
            turn.decision = "out_of_scope"
            turn.say(self.t(turn, N_("Sorry, I can only help with questions about {school_name}, like "
                                     "absences, bus, lunch, hours and the calendar.")), [menu, human])
        elif turn.state.misses >= 2:
            turn.say(self.t(turn, N_("I'm sorry, I still can't find an answer to that. Would you like me "
                                     "to pass your question to a person at the school?")), [human, menu])
        else:
            turn.say(self.t(turn, N_("Sorry, I didn't understand that. Could you say it another way? "
                                     "You can also pick a topic, or talk to a person.")), [menu, human])

    def _ask_language(self, turn: Turn) -> None:
        turn.state.flow = "language"
        turn.decision = turn.decision or "language"
        choices = [Choice(LANGUAGE_NAMES.get(code, code), f"lang:{code}") for code in self.profile.languages]
        turn.say(self.t(turn, N_("Which language would you like me to use?")), choices)

    def _language_from_text(self, norm: str) -> str | None:
        for code in self.profile.languages:
            names = {code, normalize(LANGUAGE_NAMES.get(code, code))}
            if norm in names:
                return code
        return None

    async def _set_language(self, turn: Turn, code: str) -> None:
        turn.lang = code
        turn.state.flow = None
        turn.decision = "language_set"
        turn.family.language = code

        def store(conn, now):
            families.set_language(conn, turn.family.id, code, "explicit")
        turn.effect(store)
        turn.say(self.t(turn, N_("Done! I will write to you in English from now on.")),
                 self._menu_choices(turn))

    async def _handoff(self, turn: Turn, reason: str, intent: str, priority: str,
                       answer_first: bool = False) -> None:
        """Record a ticket for staff and tell the parent what happens next."""
        turn.intent = turn.intent or intent
        turn.decision = "handoff"
        turn.state.misses = 0
        turn.state.flow = None
        if answer_first:
            turn.say(self._answer_text(turn, intent))
        topic = self.catalog[intent].topic if intent in self.catalog else "general"
        text = turn.incoming.text or turn.incoming.payload or ""
        family_id, lang = turn.family.id, turn.lang

        def record(conn, now):
            ticket = tickets.open_for_family(conn, family_id)
            ticket_id = ticket.id if ticket else tickets.create(
                conn, family_id, lang, topic, priority, reason, intent, now)
            if ticket and priority == "urgent" and ticket.priority != "urgent":
                tickets.raise_priority(conn, ticket.id, "urgent")
            tickets.add_event(conn, ticket_id, "parent", "family", text, now, language=lang)
        turn.effect(record)
        turn.say(self.t(turn, N_("I've passed your message to the staff at {school_name}. A person will "
                                 "reply here as soon as they can (office hours: {office_hours}).")),
                 [Choice(self.t(turn, MENU_TEXT), "menu")])


class _FamilyLock:
    """Messages of one family are handled one at a time, in order; families run in parallel."""

    def __init__(self, locks: dict, key: tuple[str, str]) -> None:
        self._locks, self._key = locks, key

    async def __aenter__(self) -> None:
        lock = self._locks.get(self._key)
        if lock is None:
            lock = self._locks[self._key] = asyncio.Lock()
        self._lock = lock
        await lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()
        if not self._lock.locked() and not getattr(self._lock, "_waiters", None):
            self._locks.pop(self._key, None)


def _mask(user_id: str) -> str:
    return user_id[:2] + "…" if len(user_id) > 4 else "…"
