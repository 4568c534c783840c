"""The conversation engine: `handle(Incoming) -> list[Outgoing]`, for every channel.

The path of a message: take the running understanding (catalog, matcher, language detector: one
snapshot for the whole turn, whatever a reload does meanwhile) -> load the family and its state
(store, or the engine's cache of recent families) -> settle the language (explicit choice,
detection) -> route (a button pick, a command, an active flow, or free text for the matcher) ->
localize the replies (curated, machine, or English with a notice) -> one transaction that saves
state, the message log and side effects (tickets). The save checks the state's version, so a
cached state that someone else changed meanwhile is detected and the turn is redone from the
store. Everything runs inside one error boundary: a failure is logged with a reference and the
parent gets an apology.
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot import dates, office_hours
from bot.config import SchoolProfile
from bot.core.dialog import Effect, Turn
from bot.core.localize import Localizer, Text
from bot.core.messages import Incoming, Media, Outgoing, utcnow
from bot.core.ordering import InOrder, conversation_key
from bot.core import payloads
from bot.core.payloads import Payload
from bot.i18n import N_, Locales
from bot.outbox_messages import Reply, TicketNew, TicketThread, TicketUpdate
from bot.storage import Database
from bot.handoff import STAFF_CHANNEL, staff_target
from bot.staff_alerts import StaffAlerts
from bot.storage import conversations, families, message_log, outbox, tickets
from bot.storage.conversations import HANDOFF, LANGUAGE
from bot.understanding.catalog import OUT_OF_SCOPE
from bot.understanding.language import ENGLISH_NAMES, language_from_hint, language_in_text, language_name
from bot.understanding.matcher import Classification
from bot.understanding.normalize import clean_text, normalize
from bot.understanding.snapshot import LiveUnderstanding, UnderstandingSnapshot

log = logging.getLogger("bot.engine")

MAX_TEXT = 4000
MENU_WORDS = {"menu", "main menu", "help", "start", "options", "menú", "menu principal", "ayuda",
              "inicio", "opciones", "菜单", "帮助", "thuc don", "tro giup", "القائمة", "مساعدة",
              "meni", "ed", "caawin", "ajuda", "меню", "помощь"}
HUMAN_TEXT = N_("Talk to a person")
MENU_TEXT = N_("Main menu")
OTHER_TEXT = N_("Something else")
CLARIFY_TEXT = N_("I want to be sure I understand. Did you mean:")
# When a possible meaning is a safety emergency or bullying: the 911 line comes before the question
CLARIFY_URGENT_TEXT = N_("If anyone is in danger right now, call {emergency_number} first. "
                         "I want to be sure I understand. Did you mean:")
URGENT_ALERTED_TEXT = N_("I'm alerting a staff member right away so {principal_name} or another "
                         "administrator can act and contact you.")
URGENT_UNALERTED_TEXT = N_("This chat cannot alert the school staff right away. Please call the office at "
                           "{office_phone} now, and if anyone is in danger, call {emergency_number}. Your "
                           "message is saved for the staff.")
# The same when the office is closed too: "call the office now" would send a frightened parent to
# a phone nobody answers until {when}.
URGENT_UNALERTED_CLOSED_TEXT = N_("This chat cannot alert the school staff right away, and the school office is "
                                  "closed until {when}. If anyone is in danger, call {emergency_number} now. Your "
                                  "message is saved for the staff.")
ADDED_AGAIN_TEXT = N_("Added to your conversation with the school staff.")
MENU_DURING_HANDOFF_TEXT = N_("Pick a topic below. While a staff member has your conversation, what you type goes "
                              "to them.")
MEDIA_TEXT = N_("I can only read text messages for now. Please type your question, or send /human "
                "to talk to a person.")
# A message switches the family's language on its own only when it is this long and this sure;
# a shorter or less certain one in another language gets a question instead.
SWITCH_MIN_WORDS, SWITCH_CONFIDENCE, ASK_CONFIDENCE = 6, 0.95, 0.5


class Engine:
    def __init__(self, db: Database, understanding: LiveUnderstanding, profile: SchoolProfile,
                 locales: Locales, clock: Callable[[], datetime] = utcnow, cache_size: int = 10_000,
                 translator: Any | None = None, flows: dict[str, Any] | None = None,
                 alerts: StaffAlerts | None = None,
                 answers: dict[str, Callable[[Turn, Text], Awaitable[Text]]] | None = None) -> None:
        self.db = db
        # who an urgent ticket alerts (none: the family is told to call instead)
        self.alerts = alerts or StaffAlerts()
        # catalog, matcher, language detector: each turn takes `understanding.current` once
        self.understanding = understanding
        self.profile = profile
        self.locales = locales
        self.localizer = Localizer(locales, translator, profile.info, profile.info_translations)
        self.clock = clock
        # one conversation at a time, in order (channels that order more than the turn share it)
        self.in_order = InOrder()
        # Recent families' state, checked against the stored version when the turn is saved.
        self._cache: OrderedDict[tuple[str, str], tuple[families.Family, conversations.ConversationState]] = OrderedDict()
        self.cache_size = cache_size
        self.on_outbox: Callable[[], None] | None = None  # e.g. Delivery.wake: rows are waiting
        self.flows: dict[str, Any] = dict(flows or {})  # name -> bot.flows.Flow (sign-ups)
        # intent id -> fn(turn, catalog answer) -> the answer to give (bot.calendar: the day asked about)
        self.answers = dict(answers or {})
        self._outbox_written = False

    # -- entry point ---------------------------------------------------------------------
    async def handle(self, incoming: Incoming, *, after: Effect | None = None,
                     lease: float | None = None) -> list[Outgoing]:
        """Answer one parent message. Never raises: errors become an apology with a reference.

        For channels that must not lose or repeat a turn: `after(conn, now)` runs in the turn's
        own transaction (e.g. marking the platform's update handled), and with `lease` (seconds)
        each reply is also written to the outbox, leased to the caller for that long: the
        caller sends the replies and marks them sent; if it dies first, the outbox worker sends
        them. The apology for a failed turn is neither stored nor marked: the turn may be redone."""
        started = time.perf_counter()
        turn: Turn | None = None
        outcome = "ok"
        key = (incoming.channel, incoming.user_id)
        try:
            async with self.in_order(conversation_key(incoming.channel, incoming.chat_id)):
                # this turn's catalog and matcher, even if a reload comes; taken once the family's
                # earlier message is done, so a message that waited for it starts on the newest
                seen = self.understanding.current
                for attempt in (1, 2):
                    turn = await self._begin(incoming, seen, use_cache=attempt == 1)
                    await self._route(turn)
                    turn.replies = await self.localizer.outgoing(turn.drafts, turn.lang, incoming.channel,
                                                                 incoming.chat_id)
                    try:
                        await self._finish(turn, after, lease)
                        break
                    except conversations.StaleState:
                        # someone else changed this family since we cached it: start over from the store
                        self._cache.pop(key, None)
                        if attempt == 2:
                            raise
                if turn.family_deleted:  # /forgetme: the next message starts as a new family
                    self._cache.pop(key, None)
                else:
                    self._remember(key, turn)
                for then in turn.after_commit:
                    try:
                        await then()
                    except Exception as exc:  # the turn is done; its reply must still go out
                        log.warning("engine.after_commit_failed error=%s", exc.__class__.__name__)
            if self._outbox_written and self.on_outbox is not None:
                self._outbox_written = False
                self.on_outbox()
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

    async def _begin(self, incoming: Incoming, understanding: UnderstandingSnapshot,
                     use_cache: bool = True) -> Turn:
        now = self.clock()
        stamp = now.isoformat()
        cached = self._cache.get((incoming.channel, incoming.user_id)) if use_cache else None
        if cached is not None:  # work on copies: a failed turn must not leave the cache changed
            family, state = replace(cached[0]), replace(cached[1], data=copy.deepcopy(cached[1].data),
                                                        choices=list(cached[1].choices))
            return Turn(incoming, family, state, family.language or self.profile.default_language, now,
                        understanding)

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
        return Turn(incoming, family, state, family.language or self.profile.default_language, now,
                    understanding)

    async def _finish(self, turn: Turn, after: Effect | None = None, lease: float | None = None) -> None:
        """Everything the turn wrote, in one transaction (and one trip to the database thread)."""
        stamp = turn.now.isoformat()
        inc = turn.incoming
        leased_until = (turn.now + timedelta(seconds=lease)).isoformat() if lease is not None else None
        outbox_ids: list[int] = []
        if turn.replies and turn.replies[-1].choices:
            turn.state.choices = [c.payload for c in turn.replies[-1].choices]

        def write(conn):
            if not families.touch(conn, turn.family, inc.chat_id, inc.display_name, stamp):
                raise conversations.StaleState(turn.family.id)  # the family was deleted meanwhile
            said = inc.text or (inc.payload or "")
            if inc.media is not None:
                said = inc.media.with_caption(said)
            message_log.append(conn, turn.family.id, "in", said, stamp,
                               language=turn.lang, translation=turn.english, intent=turn.intent,
                               confidence=turn.confidence)
            for reply in turn.replies:
                message_log.append(conn, turn.family.id, "out", reply.text, stamp, language=reply.language)
            for effect in turn.effects:
                effect(conn, stamp)
            if not turn.family_deleted:  # its state went with it
                conversations.save(conn, turn.state, stamp)
            if leased_until is not None:
                outbox_ids[:] = [outbox.add(conn, inc.channel, inc.chat_id, Reply(reply), stamp,
                                            not_before=leased_until) for reply in turn.replies]
            if after is not None:
                after(conn, stamp)

        await self.db.transact(write)
        if outbox_ids:
            turn.replies = [replace(reply, outbox_id=row) for reply, row in zip(turn.replies, outbox_ids)]

    # -- routing: what this message is. The precedence list is ROUTES, below. ---------------
    async def _route(self, turn: Turn) -> None:
        """Try each route of ROUTES in order; the first that takes the turn answers it."""
        text = clean_text(turn.incoming.text)[:MAX_TEXT]
        for _, route in self.ROUTES:
            if await route(self, turn, text):
                return

    async def _a_button(self, turn: Turn, text: str) -> bool:
        raw = turn.incoming.payload
        if raw is None:
            return False
        payload = Payload.unpack(raw)
        # a flow's buttons name what they act on and the flow checks ownership and status, so
        # they stay valid on older messages (e.g. a reminder's Cancel) — flows get them first
        if payload is not None and payload.owner in self.flows \
                and await self.flows[payload.owner].on_payload(turn, payload):
            turn.decision = turn.decision or "flow"
            return True
        tap = self.BUTTONS.get(payload.owner) if payload is not None else None
        if tap is None or not self._still_valid(turn, payload):
            turn.decision = "stale_choice"
            turn.say(N_("Sorry, that option has expired. Here is the menu:"), self._menu_choices(turn))
            return True
        await tap(self, turn, payload)
        return True

    async def _media(self, turn: Turn, text: str) -> bool:
        if turn.incoming.media is None:
            return False
        await self._on_media(turn, turn.incoming.media, text)
        return True

    async def _nothing_typed(self, turn: Turn, text: str) -> bool:
        if text:
            return False
        turn.decision = "empty"
        turn.say(N_("I didn't get any text. Type your question, or pick a topic:"), self._menu_choices(turn))
        return True

    async def _a_command(self, turn: Turn, text: str) -> bool:
        if not text.startswith("/"):
            return False
        await self._on_command(turn, text)
        return True

    async def _a_menu_word(self, turn: Turn, text: str) -> bool:
        if normalize(text) not in MENU_WORDS:
            return False
        self._welcome(turn, greet=False)
        return True

    async def _a_language_name(self, turn: Turn, text: str) -> bool:
        if turn.state.flow != "language":
            return False
        code = self._language_from_text(normalize(text))
        if code:
            self._set_language(turn, code)
            return True
        turn.state.flow = None  # not a language: the question goes on down the list
        return False

    async def _the_active_flow(self, turn: Turn, text: str) -> bool:
        flow = self.flows.get(turn.state.flow or "")
        if flow is None or not await flow.on_text(turn, text):
            return False
        turn.decision = turn.decision or "flow"
        return True

    async def _during_a_handoff(self, turn: Turn, text: str) -> bool:
        if not turn.state.peek(HANDOFF).get("ticket"):
            return False
        await self._forward_to_staff(turn, text)
        return True

    async def _a_question(self, turn: Turn, text: str) -> bool:
        await self._on_text(turn, text)
        return True

    # A turn is, in this order of precedence (the first route that takes it answers):
    ROUTES: tuple[tuple[str, Callable[["Engine", Turn, str], Awaitable[bool]]], ...] = (
        ("a button tap (a flow's own first, then the engine's)", _a_button),
        ("a photo, voice note, file or location", _media),
        ("an empty message", _nothing_typed),
        ("a command: /start, /human, /volunteer …", _a_command),
        ("a menu word: menu, help, ayuda …", _a_menu_word),
        ("a language's name, right after 'which language?'", _a_language_name),
        ("an answer to the step of the flow in progress", _the_active_flow),
        ("a message while a person has the conversation: to staff", _during_a_handoff),
        ("a question: the matcher understands it", _a_question),
    )

    async def _on_command(self, turn: Turn, text: str) -> None:
        command, _, arg = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()
        if command in self.flows:  # /volunteer, /conference …
            turn.decision = "flow"
            await self.flows[command].start(turn, arg.strip() or None)
        elif command in ("start", "menu", "help"):
            arg = arg.strip().lower()
            if arg in self.flows:  # deep links: /start volunteer
                turn.decision = "flow"
                await self.flows[arg].start(turn)
            elif arg and arg in turn.understanding.catalog and arg != "out_of_scope":
                await self._answer(turn, arg)
            else:
                self._welcome(turn, greet=command == "start")
        elif command == "language":
            self._ask_language(turn)
        elif command == "human":
            await self._ask_for_a_person(turn)
        else:
            turn.decision = "unknown_command"
            turn.say(N_("I don't know that command. Here is what I can help with:"), self._menu_choices(turn))

    # -- the engine's own buttons (bot.core.payloads) -------------------------------------
    async def _tap_topic(self, turn: Turn, payload: Payload) -> None:
        if payload.action == "talk_to_human":
            await self._ask_for_a_person(turn)  # also from an older message: never a second hand-off
        else:
            turn.about = payload.value or None  # e.g. the days a "Did you mean" question named
            await self._answer(turn, payload.action)

    async def _tap_language(self, turn: Turn, payload: Payload) -> None:
        self._set_language(turn, payload.action)

    async def _tap_keep_language(self, turn: Turn, payload: Payload) -> None:
        turn.decision = "language_kept"
        turn.state.space(LANGUAGE)["declined"] = payload.action
        turn.say(Text(N_("OK, I will keep writing in {language}."),
                      {"language": language_in_text(turn.lang, turn.lang)}),
                 self._menu_choices(turn))

    async def _tap_person(self, turn: Turn, payload: Payload) -> None:
        await self._ask_for_a_person(turn)  # also from an older message: never a second hand-off

    async def _tap_ask_language(self, turn: Turn, payload: Payload) -> None:
        self._ask_language(turn)

    async def _tap_other(self, turn: Turn, payload: Payload) -> None:
        turn.decision = "other"
        turn.say(N_("Could you tell me your question in other words? "
                    "Or I can pass it to a person at the school."),
                 [(HUMAN_TEXT, payloads.PERSON), (MENU_TEXT, payloads.MENU)])

    async def _tap_menu(self, turn: Turn, payload: Payload) -> None:
        self._welcome(turn, greet=False)

    BUTTONS: dict[str, Callable[["Engine", Turn, Payload], Awaitable[None]]] = {
        payloads.TOPIC: _tap_topic, payloads.LANGUAGE: _tap_language,
        payloads.KEEP_LANGUAGE: _tap_keep_language, payloads.PERSON.owner: _tap_person,
        payloads.ASK_LANGUAGE.owner: _tap_ask_language, payloads.OTHER.owner: _tap_other,
        payloads.MENU.owner: _tap_menu,
    }

    def _still_valid(self, turn: Turn, payload: Payload) -> bool:
        """The engine's own buttons (topics, languages, menu, a person) name what they point at
        and change nothing that could be out of date, so a tap on an older message still works —
        while that topic or language exists. Anything else is an option we no longer offer."""
        if payload.owner == payloads.TOPIC:
            return payload.action in turn.understanding.catalog and payload.action != OUT_OF_SCOPE  # no answer
        if payload.owner in (payloads.LANGUAGE, payloads.KEEP_LANGUAGE):
            return payload.action in self.profile.languages
        return not payload.action

    async def _ask_for_a_person(self, turn: Turn) -> None:
        if turn.state.peek(HANDOFF).get("ticket"):
            turn.decision = "to_staff"
            turn.say(N_("A staff member already has your conversation and will answer you here."))
        else:
            await self._handoff(turn, reason="asked for a person", intent="talk_to_human", priority="normal")

    async def _on_text(self, turn: Turn, text: str) -> None:
        detected = self._settle_language(turn, text)
        catalog, matcher = turn.understanding.catalog, turn.understanding.matcher
        result = await matcher.aclassify(text, detected or turn.lang)
        if result.decision != "answer" and turn.lang != "en" \
                and self.localizer.can_machine_translate(turn.lang, "en"):
            # few examples in this language: try the English translation against the English ones
            translated = await self.localizer.translator.translate(text, turn.lang, "en")
            if translated.ok:
                turn.english = translated.text
                second = await matcher.aclassify(translated.text, "en")
                if second.decision == "answer" or second.confidence > result.confidence:
                    result = second
        also: list[str] = []
        if result.decision == "clarify":
            result, also = self._a_hook_claims_it(turn, text, result)
        turn.confidence = result.confidence
        turn.decision = result.decision
        if result.decision == "answer" and result.intent:
            await self._answer(turn, result.intent, result, also=also)
        elif result.decision == "clarify":
            turn.state.misses = 0
            # an urgent meaning (safety, bullying) goes first, with the emergency number: a parent
            # in danger should not have to read past "lunch menu" to find it
            ids = sorted(result.candidate_ids, key=lambda i: not catalog[i].urgent)
            choices: list[tuple[str, Payload]] = [(catalog[i].title, payloads.topic(i, self._about(turn, i, text)))
                                                  for i in ids]
            choices.append((OTHER_TEXT, payloads.OTHER))
            urgent = catalog[ids[0]].urgent and "emergency_number" in self.profile.info
            turn.say(Text(CLARIFY_URGENT_TEXT, self.profile.info) if urgent else CLARIFY_TEXT, choices)
        else:
            self._dont_know(turn, result)
        self._maybe_ask_language(turn, detected)

    def _a_hook_claims_it(self, turn: Turn, text: str,
                          result: Classification) -> tuple[Classification, list[str]]:
        """"is there school tomorrow", "下周三上学吗": unsure between readings, one of which has an
        answer hook that claims the message (bot.calendar: it names a day, so it is a date
        question) — answer with that hook instead of asking which, and offer the other readings
        it does not answer as buttons after it. Only when that reading is the likeliest ("can I
        pick him up early friday?" unsure between early pickup and the calendar is asked, not
        answered with the calendar); never when an urgent reading is among them, nor when the
        matcher offers one reading only ("is there something on friday": is it even a calendar
        question? the parent is asked)."""
        catalog = turn.understanding.catalog
        ids = result.candidate_ids
        if len(ids) < 2 or any(catalog[i].urgent for i in ids if i in catalog):
            return result, []
        hook = self.answers.get(ids[0])
        if hook is not None and getattr(hook, "claims", lambda _turn, _text: False)(turn, text):
            others = [i for i in ids if self.answers.get(i) is not hook]
            return replace(result, decision="answer", intent=ids[0]), others
        return result, []

    def _about(self, turn: Turn, intent_id: str, text: str) -> str:
        """What a "Did you mean" button for `intent_id` carries of the question (its hook's
        `about`: the calendar's days), so that the tap answers what was asked."""
        about = getattr(self.answers.get(intent_id), "about", None)
        return (about(turn, text) or "") if about is not None else ""

    # -- language ------------------------------------------------------------------------
    def _settle_language(self, turn: Turn, text: str) -> str | None:
        """Detect the message's language; switch the family to it only when sure. Returns the
        detected language (used for matching) or None."""
        found = turn.understanding.detector.detect(text)
        if found.language is None or found.language not in self.profile.languages:
            return None
        sure = found.confidence >= SWITCH_CONFIDENCE and found.words >= SWITCH_MIN_WORDS
        # asked about this language last time and the family wrote in it again instead of
        # answering: that settles it (a Creole parent should not get English twice)
        offered = turn.state.peek(LANGUAGE)
        again = found.language == offered.get("asked") != offered.get("declined") and found.confidence >= ASK_CONFIDENCE
        if found.language != turn.lang and turn.family.language_source != "explicit" and (sure or again):
            self._store_language(turn, found.language, "detected")
        elif found.confidence < ASK_CONFIDENCE:
            return None
        return found.language

    def _maybe_ask_language(self, turn: Turn, detected: str | None) -> None:
        """A message in another language that did not switch: ask once, in that language."""
        if detected is None or detected == turn.lang or turn.family.language_source == "explicit":
            return
        offered = turn.state.peek(LANGUAGE)
        if detected in (offered.get("asked"), offered.get("declined")):
            return
        turn.state.space(LANGUAGE)["asked"] = detected
        question = self.locales.lookup(detected, N_("Would you like me to answer in {language}?"))
        yes = self.locales.lookup(detected, N_("Yes, in {language}"))
        # the question is in `detected` when curated: the name as that language writes it mid-sentence
        values = {"language": language_in_text(detected, detected) if question else language_name(detected)}
        turn.say(Text(question or N_("Would you like me to answer in {language}?"), values, kind="fixed"),
                 [(Text(yes or N_("Yes, in {language}"), values, kind="fixed"), payloads.language(detected)),
                  (Text(N_("No, keep {language}"), {"language": language_in_text(turn.lang, turn.lang)}),
                   payloads.keep_language(detected))])

    def _store_language(self, turn: Turn, code: str, source: str) -> None:
        turn.lang = code
        turn.family.language, turn.family.language_source = code, source
        family_id = turn.family.id
        turn.effect(lambda conn, now: families.set_language(conn, family_id, code, source))

    def _ask_language(self, turn: Turn) -> None:
        turn.state.flow = "language"
        turn.decision = turn.decision or "language"
        choices = [(Text(language_name(code), kind="fixed"), payloads.language(code)) for code in self.profile.languages]
        turn.say(N_("Which language would you like me to use?"), choices)

    def _language_from_text(self, norm: str) -> str | None:
        for code in self.profile.languages:
            if norm in {code, normalize(language_name(code)), normalize(ENGLISH_NAMES.get(code, code))}:
                return code
        return None

    def _set_language(self, turn: Turn, code: str) -> None:
        self._store_language(turn, code, "explicit")
        turn.state.flow = None
        turn.decision = "language_set"
        turn.say(Text(N_("Done! I will write to you in {language} from now on."),
                      {"language": language_in_text(code, code)}), self._menu_choices(turn))

    # -- replies -------------------------------------------------------------------------
    def _menu_choices(self, turn: Turn) -> list[tuple[str, Payload]]:
        catalog = turn.understanding.catalog
        return [(catalog[i].title, payloads.PERSON if i == "talk_to_human" else payloads.topic(i))
                for i in self.profile.menu if i in catalog]

    def _answer_text(self, turn: Turn, intent_id: str) -> Text:
        return Text(turn.understanding.catalog[intent_id].answer or "", self.profile.info)

    def _welcome(self, turn: Turn, greet: bool) -> None:
        turn.decision = turn.decision or "menu"
        turn.state.flow = None
        turn.state.misses = 0
        if greet and "greeting" in turn.understanding.catalog:
            text = self._answer_text(turn, "greeting")
        elif turn.state.peek(HANDOFF).get("ticket"):  # typed text goes to staff now: the menu must not say otherwise
            text = Text(MENU_DURING_HANDOFF_TEXT)
        else:
            text = Text(N_("Here is what I can help with. Pick a topic or type your question:"))
        choices: list[tuple[str | Text, str]] = list(self._menu_choices(turn))
        if greet:
            choices.append((Text(language_name(turn.lang) + " · 🌐", kind="fixed"), payloads.ASK_LANGUAGE))
        turn.say(text, choices)

    async def _answer(self, turn: Turn, intent_id: str, result: Classification | None = None,
                      also: list[str] = ()) -> None:
        """`also`: other readings of the message, offered as buttons after the answer."""
        catalog = turn.understanding.catalog
        intent = catalog[intent_id]
        turn.intent = intent_id
        turn.decision = turn.decision or "answer"
        turn.state.misses = 0
        if intent_id == "greeting":
            self._welcome(turn, greet=True)
            return
        if intent.flow == "language":
            self._ask_language(turn)
            return
        if intent.flow in self.flows:
            turn.decision = "flow"
            await self.flows[intent.flow].start(turn)
            return
        if intent.handoff or intent_id == "talk_to_human":
            await self._handoff(turn, reason=f"intent {intent_id}", intent=intent_id,
                                priority=intent.handoff or "normal", answer_first=intent_id != "talk_to_human")
            return
        choices: list[tuple[str, Payload]] = [(catalog[c].title, payloads.topic(c))
                                              for c in dict.fromkeys([*also, *intent.choices])
                                              if c in catalog and c != intent_id and c != OUT_OF_SCOPE]
        if choices:
            choices.append((MENU_TEXT, payloads.MENU))
        answer = self._answer_text(turn, intent_id)
        if intent_id in self.answers:
            answer = await self.answers[intent_id](turn, answer)
        turn.say(answer, choices)

    def _dont_know(self, turn: Turn, result: Classification) -> None:
        turn.state.misses += 1
        human, menu = (HUMAN_TEXT, payloads.PERSON), (MENU_TEXT, payloads.MENU)
        if result.out_of_scope:
            turn.decision = "out_of_scope"
            turn.say(Text(N_("Sorry, I can only help with questions about {school_name}, like "
                             "absences, bus, lunch, hours and the calendar."), self.profile.info),
                     [human, menu] if turn.state.misses >= 2 else [menu, human])  # a person first after two
        elif turn.state.misses >= 2:
            turn.say(N_("I'm sorry, I still can't find an answer to that. Would you like me "
                        "to pass your question to a person at the school?"), [human, menu])
        else:
            turn.say(N_("Sorry, I didn't understand that. Could you say it another way? "
                        "You can also pick a topic, or talk to a person."), [menu, human])

    async def _handoff(self, turn: Turn, reason: str, intent: str, priority: str,
                       answer_first: bool = False) -> None:
        """Open (or add to) a ticket for staff and tell the parent what happens next."""
        turn.intent = turn.intent or intent
        turn.decision = "handoff"
        turn.state.misses = 0
        turn.state.flow = None
        if answer_first:  # for urgent intents this is the safety guidance, before anything else
            turn.say(self._answer_text(turn, intent))
        catalog = turn.understanding.catalog
        topic = catalog[intent].topic if intent in catalog else "general"
        text = await self._parents_words(turn)
        english = await self._english(turn, text)
        alerts, urgent = self.alerts, priority == "urgent"
        family_id, lang, state = turn.family.id, turn.lang, turn.state
        # staff will need an interpreter when no model can carry the family's language both ways
        interpreter = None if lang == "en" or (self.localizer.can_machine_translate(lang, "en") and
                                               self.localizer.can_machine_translate("en", lang)) \
            else ENGLISH_NAMES.get(lang, lang)

        def record(conn, now):
            ticket = tickets.open_for_family(conn, family_id)
            if ticket is None:
                ticket_id = tickets.create(conn, family_id, lang, topic, priority, reason, intent, now,
                                           interpreter=interpreter)
                outbox.add(conn, STAFF_CHANNEL, staff_target(ticket_id), TicketNew(), now, ticket_id=ticket_id)
            else:
                ticket_id = ticket.id
                if priority == "urgent" and ticket.priority != "urgent":
                    tickets.raise_priority(conn, ticket_id, "urgent")
                outbox.add(conn, STAFF_CHANNEL, staff_target(ticket_id), TicketThread(text, lang, english), now,
                           ticket_id=ticket_id)
            tickets.add_event(conn, ticket_id, "parent", "family", text, now, language=lang, translation=english)
            if urgent:
                alerts.urgent(conn, ticket_id, now)
            state.space(HANDOFF)["ticket"] = ticket_id  # saved with the state, after this effect
        turn.effect(record)
        self._outbox_written = True
        if urgent and not alerts.reaches_someone:  # never claim an alert that does not go out
            turn.say(self._unalerted(turn), [(MENU_TEXT, payloads.MENU)])
            return
        if urgent:
            turn.say(Text(URGENT_ALERTED_TEXT, self.profile.info))
        if not office_hours.is_open(self.profile, turn.now):
            opening = office_hours.next_opening(self.profile, turn.now)
            when = _format_when(opening, turn.lang) if opening else ""
            turn.say(Text(N_("The school office is closed right now, so a reply may take until it opens "
                             "({when}). If anyone is in danger, call {emergency_number} now."),
                          {**self.profile.info, "when": when}))
        turn.say(Text(N_("I've passed your message to the staff at {school_name}. A person will "
                         "reply here as soon as they can (office hours: {office_hours})."), self.profile.info),
                 [(MENU_TEXT, payloads.MENU)])

    def _unalerted(self, turn: Turn) -> Text:
        """What an urgent report is told when no staff channel is configured: call the office if it
        is open, else when it opens; the emergency number either way."""
        opening = None if office_hours.is_open(self.profile, turn.now) else office_hours.next_opening(
            self.profile, turn.now)
        if opening is None:
            return Text(URGENT_UNALERTED_TEXT, self.profile.info)
        return Text(URGENT_UNALERTED_CLOSED_TEXT, {**self.profile.info, "when": _format_when(opening, turn.lang)})

    async def _on_media(self, turn: Turn, media: Media, caption: str) -> None:
        """A photo, voice note, file or location. The bot reads text only; during a hand-off
        the item goes to staff (the file itself is fetched by the staff tool, see bot.media)."""
        if turn.state.peek(HANDOFF).get("ticket"):
            await self._forward_to_staff(turn, caption, media)
            return
        turn.decision = "media"
        turn.say(MEDIA_TEXT, [(HUMAN_TEXT, payloads.PERSON), (MENU_TEXT, payloads.MENU)])

    async def _forward_to_staff(self, turn: Turn, text: str, media: Media | None = None) -> None:
        """A message while a person is handling the family's ticket goes to that person."""
        turn.decision = "to_staff"
        ticket_id, lang = turn.state.peek(HANDOFF)["ticket"], turn.lang
        english = await self._english(turn, text) if text else None
        # urgent wording still gets the safety guidance at once, and raises the ticket
        understanding = turn.understanding
        result = await understanding.matcher.aclassify(english or text, "en" if english else lang) if text else None
        urgent = result is not None and result.decision == "answer" and result.intent is not None \
            and understanding.catalog[result.intent].urgent
        thread = TicketThread(text, lang, english, urgent, media, turn.incoming.channel)
        if media is not None:
            text = media.with_caption(text)  # what the ticket's timeline shows
        alerts = self.alerts
        if urgent:
            turn.intent = result.intent
            turn.say(self._answer_text(turn, result.intent))
            turn.say(Text(URGENT_ALERTED_TEXT, self.profile.info) if alerts.reaches_someone
                     else self._unalerted(turn))

        def record(conn, now):
            tickets.add_event(conn, ticket_id, "parent", "family", text, now, language=lang, translation=english)
            mailed = False
            if urgent:
                tickets.raise_priority(conn, ticket_id, "urgent")
                mailed = alerts.urgent(conn, ticket_id, now)  # the urgent mail carries this message
                outbox.add(conn, STAFF_CHANNEL, staff_target(ticket_id), TicketUpdate(priority="urgent"), now,
                           ticket_id=ticket_id)
            if not mailed and text:
                alerts.follow_up(conn, ticket_id, text, lang, english, now)
            outbox.add(conn, STAFF_CHANNEL, staff_target(ticket_id), thread, now, ticket_id=ticket_id)
        turn.effect(record)
        self._outbox_written = True
        if urgent:
            return  # the guidance and what happens next were said
        if not turn.state.peek(HANDOFF).get("acked"):
            turn.state.space(HANDOFF)["acked"] = True
            turn.say(N_("I've added this to your conversation with the school staff. They will answer you here. "
                        "To ask me something else meanwhile, type /menu."))
        else:  # every later message too: silence would look like it went nowhere
            turn.say(ADDED_AGAIN_TEXT)

    async def _parents_words(self, turn: Turn) -> str:
        """What the ticket shows as the parent's words. A `/human` command or a button is not
        what they asked: then their last real message before it (with the command's own text)."""
        text = turn.incoming.text or ""
        if text and not text.startswith("/"):
            return text
        family_id = turn.family.id

        def last_words(conn) -> str | None:
            rows = conn.execute("SELECT text FROM messages WHERE family_id = ? AND direction = 'in'"
                                " AND text NOT LIKE '/%' AND text != '' ORDER BY id DESC LIMIT 5",
                                (family_id,)).fetchall()
            # the log keeps button presses as their payloads ("human", "intent:bus"): skip those
            return next((r[0] for r in rows if not payloads.is_payload(r[0])), None)

        earlier = await self.db.run(last_words)
        said = text or turn.incoming.payload or ""
        if earlier:
            return f"{earlier}\n({said})" if said else earlier
        return said

    async def _english(self, turn: Turn, text: str) -> str | None:
        """The parent's words in English for staff (None when already English or no model)."""
        if turn.english is None and turn.lang != "en" and self.localizer.can_machine_translate(turn.lang, "en"):
            translated = await self.localizer.translator.translate(text, turn.lang, "en")
            turn.english = translated.text if translated.ok else None
        return turn.english


def _format_when(moment, lang: str) -> str:
    """'Monday 7:30 AM' in the family's language (curated date words where Babel has none)."""
    return dates.weekday_time(moment, lang)


def _mask(user_id: str) -> str:
    return user_id[:2] + "…" if len(user_id) > 4 else "…"
