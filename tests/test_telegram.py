"""The Telegram channel, offline: the real python-telegram-bot Application (long polling,
AIORateLimiter, our ordering processor) against the local fake Bot API server, with the real
engine and SQLite store on a temporary data dir.

Each test pushes updates into the fake, lets the channel poll them, and checks what the fake
received (`sendMessage`, `answerCallbackQuery`, `setMyCommands`, …) and what the inbox holds.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from bot.app import start
from bot.channels.telegram import (COMMANDS, GROUP_BUTTON, GROUP_TEXT, ChatPacer, build_channel,
                                   escape, keyboard, split_text, telegram_size)
from bot.config import Settings
from bot.core.engine import MEDIA_TEXT
from bot.core.messages import Attachment, Choice, Outgoing, utcnow
from bot.i18n import fill
from bot.storage import families, inbox
from fakes.telegram_api import (DEFAULT_GROUP_CHAT_ID, DEFAULT_TOKEN, DEFAULT_USER_ID, FakeBotAPI,
                                utf16_len)

TOKEN = DEFAULT_TOKEN
# AIORateLimiter reads RetryAfter.retry_after, which PTB 22 marks as changing type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
DEFAULT_SCOPE = json.dumps({"type": "default"}, sort_keys=True)


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
def tg_settings(tmp_path, fake: FakeBotAPI) -> Settings:
    return Settings.from_env({
        "HOMEROOM_DATA_DIR": str(tmp_path / "data"),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_API_FILE_URL": fake.base_file_url,
    })


@pytest.fixture
async def homeroom(tg_settings: Settings):
    app = await start(tg_settings)
    yield app
    await app.close()


@asynccontextmanager
async def running(settings: Settings, homeroom, **options):
    """The channel as production runs it (long polling), always stopped cleanly."""
    options.setdefault("pace", 0)
    channel = build_channel(settings, homeroom, **options)
    await channel.start(poll_timeout=1)
    try:
        yield channel
    finally:
        await channel.stop()


async def settle(channel, count: int, timeout: float = 5.0) -> None:
    """Wait until the channel has finished `count` updates (whatever their outcome)."""
    deadline = time.monotonic() + timeout
    while sum(channel.outcomes.values()) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {dict(channel.outcomes)} after {timeout}s, expected {count} updates")
        await asyncio.sleep(0.01)


def buttons(params: dict) -> list[list[dict]]:
    return params.get("reply_markup", {}).get("inline_keyboard", [])


def last_button(fake: FakeBotAPI, prefix: str) -> tuple[int, str]:
    """(message id, callback data) of the newest sent button whose data starts with `prefix`."""
    for call in reversed(fake.calls("sendMessage", ok=True)):
        for row in buttons(call.params):
            for button in row:
                if button.get("callback_data", "").startswith(prefix):
                    return call.response["result"]["message_id"], button["callback_data"]
    raise AssertionError(f"no button {prefix!r} in {[c.params['text'][:40] for c in fake.calls('sendMessage')]}")


def reply_with(homeroom, monkeypatch, *replies: Outgoing | str) -> None:
    """Make the engine answer every message with these replies (to drive the sender)."""
    async def handle(incoming, **_):
        return [r if isinstance(r, Outgoing) else Outgoing("telegram", incoming.chat_id, r) for r in replies]
    monkeypatch.setattr(homeroom.engine, "handle", handle)


# ------------------------------------------------------------------ conversations


async def test_start_in_spanish_with_keyboard_and_commands(fake, tg_settings, homeroom):
    fake.push_update(fake.message_update("/start", language_code="es"))
    async with running(tg_settings, homeroom):
        (call,) = await fake.wait_for("sendMessage")
    params = call.params
    assert params["chat_id"] == DEFAULT_USER_ID and params["parse_mode"] == "HTML"
    assert params["text"].startswith("¡Hola!")  # the curated Spanish welcome
    rows = buttons(params)
    assert rows and all(len(row) == 1 for row in rows)  # one button per row
    payloads = [row[0]["callback_data"] for row in rows]
    assert "language" in payloads  # the language button row
    assert "Hablar con una persona" in [row[0]["text"] for row in rows]
    # the command menu: English by default, Spanish for Spanish apps; only commands the engine knows
    assert [c["command"] for c in fake.commands[(DEFAULT_SCOPE, "")]] == ["start", "help", "language", "human",
                                                                     "volunteer", "conference", "mysignups",
                                                                     "myabsences", "privacy", "mydata", "forgetme"]
    spanish = fake.commands[(DEFAULT_SCOPE, "es")]
    locales = homeroom.engine.locales
    assert [c["description"] for c in spanish] == [locales.text("es", text) for _, text in COMMANDS]
    assert spanish != fake.commands[(DEFAULT_SCOPE, "")]


async def test_question_then_button_tap(fake, tg_settings, homeroom):
    fake.push_update(fake.message_update("What time does school start?"))
    async with running(tg_settings, homeroom) as channel:
        (answer,) = await fake.wait_for("sendMessage")
        payload = next(row[0]["callback_data"] for row in buttons(answer.params)
                       if row[0]["callback_data"].startswith("intent:"))
        label = next(row[0]["text"] for row in buttons(answer.params) if row[0]["callback_data"] == payload)
        sent_id = answer.response["result"]["message_id"]
        tap = fake.push_update(fake.callback_update(payload, message_id=sent_id))
        calls = await fake.wait_for("sendMessage", 2)
        (ack,) = await fake.wait_for("answerCallbackQuery")
        await settle(channel, 2)
    assert "8:10" in html.unescape(answer.params["text"])  # the school hours answer
    intent = payload.split(":", 1)[1]
    expected = fill(homeroom.understanding.current.catalog[intent].answer, homeroom.profile.info)
    assert html.unescape(calls[1].params["text"]) == expected
    assert ack.params["callback_query_id"] == tap["callback_query"]["id"]
    assert channel.outcomes["replied"] == 2
    # the engine heard the button's label, as if the parent had typed it
    logged = await homeroom.db.run(lambda c: [r[0] for r in c.execute(
        "SELECT text FROM messages WHERE direction = 'in' ORDER BY id")])
    assert logged == ["What time does school start?", label]


async def test_buttons_on_older_messages_work_while_what_they_point_at_exists(fake, tg_settings, homeroom):
    """A topic button on a deleted (inaccessible) message still answers its topic; a button for
    a topic the catalog no longer has gets the engine's clear "expired" reply and the menu."""
    fake.push_update(fake.callback_update("intent:lunch_menu", accessible=False))
    fake.push_update(fake.callback_update("intent:retired_topic", accessible=False))
    async with running(tg_settings, homeroom) as channel:
        first, second = await fake.wait_for("sendMessage", 2)
        await settle(channel, 2)
    lunch = homeroom.understanding.current.catalog["lunch_menu"]
    assert html.unescape(first.params["text"]) == fill(lunch.answer, homeroom.profile.info)
    assert html.unescape(second.params["text"]) == "Sorry, that option has expired. Here is the menu:"
    assert buttons(second.params)


async def test_the_same_update_twice_gets_one_reply(fake, tg_settings, homeroom):
    update = fake.push_update(fake.message_update("What time does school start?"))
    fake.push_update(update)  # redelivered: the same update_id
    async with running(tg_settings, homeroom) as channel:
        await fake.wait_for("sendMessage")
        await settle(channel, 2)
    assert len(fake.calls("sendMessage")) == 1
    assert channel.outcomes == {"replied": 1, "duplicate": 1}
    handled_at, outcome = await homeroom.db.run(inbox.status, "telegram", update["update_id"])
    assert handled_at and outcome == "replied"


async def test_edited_messages_are_ignored(fake, tg_settings, homeroom):
    edit = fake.push_update(fake.edited_message_update("When does school start, again?"))
    async with running(tg_settings, homeroom) as channel:
        await settle(channel, 1)
    assert fake.calls("sendMessage") == []
    assert channel.outcomes == {"ignored_edit": 1}
    assert (await homeroom.db.run(inbox.status, "telegram", edit["update_id"]))[1] == "ignored_edit"


async def test_429_is_waited_out_and_delivered_once(fake, tg_settings, homeroom):
    fake.fail_next("sendMessage", status=429, retry_after=1)
    fake.push_update(fake.message_update("/start"))
    async with running(tg_settings, homeroom) as channel:
        first = await fake.wait_for("sendMessage")
        calls = await fake.wait_for("sendMessage", 2, timeout=10)
        await settle(channel, 1)
    assert [c.status for c in calls] == [429, 200] and first[0].status == 429
    assert len(fake.sent()) == 1 and channel.outcomes == {"replied": 1}
    assert calls[1].at - calls[0].at >= 1.0  # retry_after = 1 s, as the far end saw it


async def test_a_10000_character_answer_goes_in_parts(fake, tg_settings, homeroom, monkeypatch):
    sentence = "Bring the signed form & a <small> bag on Friday, please. "
    paragraphs = ["".join(sentence for _ in range(12)).strip() for _ in range(15)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 10_000
    ics = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    reply_with(homeroom, monkeypatch, Outgoing("telegram", str(DEFAULT_USER_ID), text,
                                                (Choice("Main menu", "menu"),),
                                                Attachment("field-trip.ics", ics, "text/calendar")))
    fake.push_update(fake.message_update("tell me everything"))
    async with running(tg_settings, homeroom) as channel:
        await fake.wait_for("sendDocument")
        await settle(channel, 1)
    messages = [p for p in fake.sent() if "text" in p]
    assert len(messages) >= 3
    assert all(utf16_len(p["text"]) <= 4096 for p in messages)
    assert [bool(buttons(p)) for p in messages] == [False] * (len(messages) - 1) + [True]
    parts = [html.unescape(p["text"]) for p in messages]
    assert all(part.endswith("please.") for part in parts)  # cut at paragraph/sentence ends
    assert "\n\n".join(parts) == text  # nothing lost, nothing reordered
    (document,) = [p for p in fake.sent() if "document" in p]
    assert document["document"].filename == "field-trip.ics" and document["document"].content == ics


async def test_markup_characters_render_as_sent(fake, tg_settings, homeroom, monkeypatch):
    tricky = 'Fish & chips <b>not bold</b> *stars* _under_ `code` a<b && c>d "q" it\'s 2 < 3 &amp; [x](y)'
    reply_with(homeroom, monkeypatch, Outgoing("telegram", str(DEFAULT_USER_ID), tricky,
                                                (Choice("<Menu & more>", "menu"),)))
    fake.push_update(fake.message_update("show me"))
    async with running(tg_settings, homeroom):
        (call,) = await fake.wait_for("sendMessage")
    sent = call.params["text"]
    assert call.params["parse_mode"] == "HTML"
    assert "&lt;b&gt;not bold&lt;/b&gt;" in sent and "&amp;amp;" in sent and "<" not in sent
    assert html.unescape(sent) == tricky
    assert buttons(call.params) == [[{"text": "<Menu & more>", "callback_data": "menu"}]]  # labels are not parsed


async def test_pacing_spaces_one_chats_messages(fake, tg_settings, homeroom, monkeypatch):
    reply_with(homeroom, monkeypatch, "one", "two", "three")
    fake.push_update(fake.message_update("hi"))
    async with running(tg_settings, homeroom, pace=0.25, pace_burst=1):
        calls = await fake.wait_for("sendMessage", 3)
    assert [p["text"] for p in fake.sent()] == ["one", "two", "three"]
    assert calls[2].at - calls[0].at >= 0.45  # two more messages, 0.25 s apart (at the far end)


async def test_one_chat_in_order_while_others_go_on(fake, tg_settings, homeroom, monkeypatch):
    """A slow first answer in chat A does not hold chat B, and A's second waits for its first."""
    gate = asyncio.Event()

    async def handle(incoming, **_):
        if incoming.text == "slow":
            await gate.wait()
        return [Outgoing("telegram", incoming.chat_id, f"re: {incoming.text}")]
    monkeypatch.setattr(homeroom.engine, "handle", handle)
    fake.push_update(fake.message_update("slow", user_id=11))
    fake.push_update(fake.message_update("fast", user_id=11))
    fake.push_update(fake.message_update("other chat", user_id=22))
    async with running(tg_settings, homeroom) as channel:
        (first,) = await fake.wait_for("sendMessage")
        assert first.params["text"] == "re: other chat"
        gate.set()
        await settle(channel, 3)
    assert [p["text"] for p in fake.sent(11)] == ["re: slow", "re: fast"]


# ------------------------------------------------------------------ groups, media, recovery


async def test_group_gets_the_private_chat_notice_once(fake, tg_settings, homeroom):
    fake.push_update(fake.message_update("/start@HomeroomTestBot", chat_type="group", user_id=7,
                                         language_code="es"))
    fake.push_update(fake.message_update("/help@HomeroomTestBot", chat_type="group", user_id=8))
    added = {"chat": {"id": -1005550001, "title": "PTA", "type": "supergroup"},
             "from": {"id": 9, "is_bot": False, "first_name": "Li", "language_code": "en"},
             "date": int(time.time()),
             "old_chat_member": {"user": fake.bot_user, "status": "left"},
             "new_chat_member": {"user": fake.bot_user, "status": "member"}}
    fake.push_update({"my_chat_member": added})
    fake.push_update(fake.message_update("/start@HomeroomTestBot", chat_type="supergroup", chat_id=-1005550001))
    async with running(tg_settings, homeroom) as channel:
        await settle(channel, 4)
    notices = fake.calls("sendMessage")
    assert [c.params["chat_id"] for c in notices] == [DEFAULT_GROUP_CHAT_ID, -1005550001]
    locales = homeroom.engine.locales
    group = notices[0].params
    assert html.unescape(group["text"]) == locales.text("es", GROUP_TEXT)  # the sender's language
    assert buttons(group) == [[{"text": locales.text("es", GROUP_BUTTON),
                                "url": "https://t.me/HomeroomTestBot?start=hello"}]]
    assert channel.outcomes == {"group_notice": 2, "ignored_group": 2}
    assert await homeroom.db.run(lambda c: c.execute("SELECT COUNT(*) FROM families").fetchone()[0]) == 0
    # remembered across restarts
    fake.push_update(fake.message_update("anyone?", chat_type="group", user_id=10))
    async with running(tg_settings, homeroom) as channel:
        await settle(channel, 1)
    assert len(fake.calls("sendMessage")) == 2 and channel.outcomes == {"ignored_group": 1}


async def test_media_gets_a_polite_text_only_reply_in_the_familys_language(fake, tg_settings, homeroom):
    locales = homeroom.engine.locales
    fake.push_update(fake.photo_update(caption="permiso firmado", language_code="es"))
    # a family that chose Vietnamese is answered in Vietnamese, whatever its app's language
    now = utcnow().isoformat()
    await homeroom.db.transact(families.create, "telegram", "555", "555", "Lan", "vi", "explicit", now)
    voice = fake.message_update("", user_id=555, language_code="en")
    del voice["message"]["text"]
    voice["message"]["voice"] = {"file_id": "AwACAgIAAxkBAAIB", "file_unique_id": "AgADBwAD", "duration": 3}
    fake.push_update(voice)
    async with running(tg_settings, homeroom) as channel:
        await settle(channel, 2)
    spanish, vietnamese = locales.text("es", MEDIA_TEXT), locales.text("vi", MEDIA_TEXT)
    assert spanish != MEDIA_TEXT and vietnamese != MEDIA_TEXT
    assert [html.unescape(p["text"]) for p in fake.sent(DEFAULT_USER_ID)] == [spanish]
    assert [html.unescape(p["text"]) for p in fake.sent(555)] == [vietnamese]
    assert channel.outcomes == {"replied": 2}  # the engine's answer, with a "talk to a person" button


async def test_an_unhandled_inbox_row_is_handled_at_start_once(fake, tg_settings):
    raw = fake.message_update("What time does school start?", update_id=41)
    homeroom = await start(tg_settings)
    try:
        await homeroom.db.transact(inbox.record, "telegram", [(41, str(DEFAULT_USER_ID), json.dumps(raw))],
                                   utcnow().isoformat())
    finally:
        await homeroom.close()
    homeroom = await start(tg_settings)  # a fresh process, as after a crash
    try:
        async with running(tg_settings, homeroom) as channel:
            (call,) = await fake.wait_for("sendMessage")  # before polling saw anything
            assert channel.outcomes == {"replied": 1}
            fake.push_update(raw)  # Telegram delivers it after all: recognized
            await settle(channel, 2)
        assert len(fake.calls("sendMessage")) == 1 and channel.outcomes["duplicate"] == 1
        assert "8:10" in call.params["text"]
        assert await homeroom.db.run(inbox.counts, "telegram") == {"unhandled": 0, "handled": 1}
    finally:
        await homeroom.close()


async def test_a_crash_mid_handler_loses_nothing(fake, tg_settings, monkeypatch):
    homeroom = await start(tg_settings)
    try:
        async def crash(incoming):
            raise RuntimeError("simulated crash inside the handler")
        monkeypatch.setattr(homeroom.engine, "handle", crash)
        update = fake.push_update(fake.message_update("Is the bus late today?"))
        async with running(tg_settings, homeroom) as channel:
            await settle(channel, 1)
        assert channel.outcomes == {"error": 1} and fake.sent() == []
        assert fake.confirmed_offset > update["update_id"]  # Telegram will never send it again
        row = await homeroom.db.run(inbox.status, "telegram", update["update_id"])
        assert row == (None, None)  # recorded, not handled
    finally:
        await homeroom.close()
    monkeypatch.undo()
    homeroom = await start(tg_settings)
    try:
        async with running(tg_settings, homeroom) as channel:
            await fake.wait_for("sendMessage")
            await settle(channel, 1)
        assert len(fake.sent()) == 1 and channel.outcomes == {"replied": 1}
        assert (await homeroom.db.run(inbox.status, "telegram", update["update_id"]))[1] == "replied"
    finally:
        await homeroom.close()


async def test_a_crash_after_the_turn_committed_sends_its_reply_once_and_does_not_redo_the_turn(
        fake, tg_settings, monkeypatch):
    """The engine's transaction marks the update handled and stores the replies (leased to the
    channel). A crash before they were sent: the restarted bot's outbox worker sends them,
    once, and the engine does not answer the question a second time."""
    from bot.channels.telegram.channel import register_outbox
    from bot.storage import outbox

    homeroom = await start(tg_settings)
    try:
        async def die(chat_id, reply):
            raise RuntimeError("simulated crash after the engine committed")
        update = fake.push_update(fake.message_update("What time does school start?"))
        async with running(tg_settings, homeroom) as channel:
            monkeypatch.setattr(channel.sender, "send", die)
            await settle(channel, 1)
        assert fake.sent() == []
        assert (await homeroom.db.run(inbox.status, "telegram", update["update_id"]))[1] == "replied"
        assert (await homeroom.db.run(outbox.depth))[0] == 1  # the reply, waiting
    finally:
        await homeroom.close()
    monkeypatch.undo()
    homeroom = await start(tg_settings)
    try:
        async with running(tg_settings, homeroom) as channel:
            register_outbox(homeroom, channel)
            assert await homeroom.delivery.run_once() == 1  # released at start: due at once
            assert await homeroom.delivery.run_once() == 0
        (sent,) = fake.sent()
        assert "8:10" in sent["text"]
        assert channel.outcomes == {}  # the update was not handled again
        count = await homeroom.db.run(lambda c: c.execute(
            "SELECT COUNT(*) FROM messages WHERE direction = 'in'").fetchone()[0])
        assert count == 1  # one turn in the message log
    finally:
        await homeroom.close()


async def test_replies_sent_directly_are_not_sent_again_by_the_worker(fake, tg_settings, homeroom):
    from bot.channels.telegram.channel import register_outbox
    from bot.storage import outbox

    fake.push_update(fake.message_update("/start"))
    async with running(tg_settings, homeroom) as channel:
        register_outbox(homeroom, channel)
        await fake.wait_for("sendMessage")
        await settle(channel, 1)
        assert await homeroom.delivery.run_once() == 0
    assert len(fake.sent()) == 1
    assert (await homeroom.db.run(outbox.depth))[0] == 0


async def test_an_update_is_confirmed_only_once_it_is_in_the_inbox(fake, tg_settings, homeroom, monkeypatch):
    real, attempts = inbox.record, []

    def disk_fails_once(conn, *args):
        attempts.append(1)
        if len(attempts) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real(conn, *args)
    monkeypatch.setattr(inbox, "record", disk_fails_once)
    update = fake.push_update(fake.message_update("/start"))
    async with running(tg_settings, homeroom) as channel:
        await fake.wait_for("sendMessage", timeout=10)  # PTB backs off ~1 s, then fetches again
        await settle(channel, 1)
    deliveries = [c for c in fake.calls("getUpdates")
                  if any(u["update_id"] == update["update_id"] for u in c.response.get("result", []))]
    assert len(deliveries) == 2  # the first fetch was not confirmed: Telegram sent it again
    assert len(fake.sent()) == 1 and channel.outcomes == {"replied": 1}


async def test_logs_one_line_per_update_without_text_or_token(fake, tg_settings, homeroom, caplog):
    caplog.set_level(logging.INFO)
    fake.push_update(fake.message_update("My son Tomás is sick today", user_id=123456789))
    async with running(tg_settings, homeroom) as channel:
        await fake.wait_for("sendMessage")
        await settle(channel, 1)
    ours = [r for r in caplog.records if r.name.startswith("bot")]
    lines = [r.getMessage() for r in ours if r.getMessage().startswith("telegram.update ")]
    assert len(lines) == 1
    assert "latency_ms=" in lines[0] and "chat=12…89" in lines[0] and "123456789" not in lines[0]
    for record in ours:
        message = record.getMessage()
        assert TOKEN not in message and "Tomás" not in message


# ------------------------------------------------------------------ pure parts


def test_split_keeps_short_text_whole():
    assert split_text("Hello & welcome") == ["Hello & welcome"]
    assert split_text("") == []


def test_split_prefers_paragraphs_then_sentences_then_words():
    para = "First paragraph here. It has two sentences."
    text = f"{para}\n\n{para}\n\n{para}"
    assert split_text(text, limit=100, size=len) == [f"{para}\n\n{para}", para]
    sentences = "One two three. Four five six! Seven eight nine? Ten."
    assert split_text(sentences, limit=30, size=len) == ["One two three. Four five six!", "Seven eight nine? Ten."]
    words = "alpha beta gamma delta epsilon zeta eta theta"
    assert split_text(words, limit=20, size=len) == ["alpha beta gamma", "delta epsilon zeta", "eta theta"]
    assert split_text("x" * 25, limit=10, size=len) == ["x" * 10, "x" * 10, "x" * 5]
    cjk = "学校八点开始。" * 10
    assert all(part.endswith("。") for part in split_text(cjk, limit=30, size=len))


def test_split_measures_escaped_utf16_size():
    ampersands = split_text("&" * 5000)
    assert len(ampersands) == 7 and all(telegram_size(p) <= 4096 for p in ampersands)
    emoji = split_text("🙂" * 3000)
    assert len(emoji) == 2 and all(utf16_len(escape(p)) <= 4096 for p in emoji)
    assert "".join(emoji) == "🙂" * 3000


@hyp_settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab &<.!?\n。🙂")), max_size=400), st.integers(5, 60))
def test_split_never_exceeds_and_never_loses_text(text, limit):
    parts = split_text(text, limit=limit)
    assert all(telegram_size(p) <= limit for p in parts)
    assert all(p == p.strip() and p for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


def test_keyboard_one_button_per_row_and_skips_oversized_payloads(caplog):
    markup = keyboard((Choice("Hours", "intent:school_hours"), Choice("Too long", "x" * 65),
                       Choice("Árabe", "lang:" + "é" * 30)))  # 5 + 60 bytes: too long too
    assert markup is not None
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["intent:school_hours"]]
    assert sum("telegram.button_skipped" in r.getMessage() for r in caplog.records) == 2
    assert keyboard(()) is None


def test_pacer_allows_a_small_burst_then_one_per_interval():
    now = [100.0]
    pacer = ChatPacer(interval=1.0, burst=3, clock=lambda: now[0])
    assert [pacer.reserve(1) for _ in range(5)] == [0, 0, 0, 1.0, 2.0]
    assert pacer.reserve(2) == 0  # another chat is not held up
    now[0] += 10
    assert pacer.reserve(1) == 0
    assert ChatPacer(interval=0).reserve(1) == 0  # pacing off


async def test_a_refused_token_is_a_configuration_error(fake, tmp_path, caplog):
    from bot.config import ConfigError
    from bot.runner import run_channels

    wrong = "999:WRONG-token-for-this-test"
    settings = Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "TELEGRAM_BOT_TOKEN": wrong,
                                  "TELEGRAM_API_BASE_URL": fake.base_url})
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN was refused") as info:
        await run_channels(settings)
    assert wrong not in str(info.value)
    assert all(wrong not in r.getMessage() for r in caplog.records)


async def test_staff_reply_reaches_the_telegram_family_through_the_outbox(tmp_path):
    """The hand-off loop closes on Telegram: a reply from `homeroom tickets reply` (the outbox)
    is delivered to the family's chat by the channel's outbox sender."""
    from bot.app import start
    from bot.channels.telegram.channel import build_channel, register_outbox
    from bot.config import Settings
    from bot.storage import tickets as ticket_store
    from fakes.telegram_api import FakeBotAPI

    async with FakeBotAPI() as fake:
        settings = Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "TELEGRAM_BOT_TOKEN": fake.token,
                                      "TELEGRAM_API_BASE_URL": fake.base_url,
                                      "TELEGRAM_API_FILE_URL": fake.base_file_url})
        homeroom = await start(settings)
        channel = build_channel(settings, homeroom)
        await channel.start()
        try:
            register_outbox(homeroom, channel)
            fake.push_update(fake.message_update("/human", chat_id=4242, user_id=4242))
            await fake.wait_for("sendMessage", count=1)
            for _ in range(50):
                open_tickets = await homeroom.db.run(ticket_store.list_open)
                if open_tickets:
                    break
                await asyncio.sleep(0.05)
            await homeroom.handoff.reply(open_tickets[0].id, "ms.adams", "We will call you at 3 <today> & tomorrow.")
            # it waits (in order) behind the turn's own replies until the channel marked them sent
            def relayed() -> list[dict]:
                return [m for m in fake.sent(4242) if "We will call" in html.unescape(m["text"])]
            for _ in range(100):
                await homeroom.delivery.run_once()
                if relayed():
                    break
                await asyncio.sleep(0.05)
            await homeroom.delivery.run_once()  # nothing left: delivered once
            relayed = relayed()
            assert len(relayed) == 1
            assert html.unescape(relayed[0]["text"]) == "We will call you at 3 <today> & tomorrow."
        finally:
            await channel.stop()
            await homeroom.close()


async def test_a_reply_waiting_out_a_429_past_its_lease_is_not_sent_again_by_the_worker(
        fake, tg_settings, homeroom, monkeypatch):
    """Telegram answers 429 and the channel waits out the Retry-After for longer than the
    reply's lease. The outbox worker, polling meanwhile, leaves the row alone (the channel
    holds it), so the parent gets the welcome once, not once from each path."""
    from bot.channels.telegram import channel as channel_module
    from bot.channels.telegram.channel import register_outbox

    monkeypatch.setattr(channel_module, "REPLY_LEASE", 0.2)
    fake.fail_next("sendMessage", status=429, retry_after=1)
    fake.push_update(fake.message_update("/start"))
    async with running(tg_settings, homeroom) as channel:
        register_outbox(homeroom, channel)
        await fake.wait_for("sendMessage", count=1)  # the 429: the channel now waits ~1 s
        await asyncio.sleep(0.4)  # the lease is over, the send is not
        assert await homeroom.delivery.run_once() == 0
        await settle(channel, 1)
        assert await homeroom.delivery.run_once() == 0
    texts = [m["text"] for m in fake.sent(DEFAULT_USER_ID)]
    assert texts and len(texts) == len(set(texts))
    assert not await homeroom.db.run(lambda conn: conn.execute(
        "SELECT id FROM outbox WHERE status = 'pending'").fetchall())


async def test_a_photo_in_a_handoff_is_kept_by_file_id_and_fetched_through_the_bot_api(fake, tg_settings, homeroom):
    """During a hand-off a photo goes to staff: the outbox row holds Telegram's file id, and the
    channel's fetcher downloads the largest size through getFile and the file URL."""
    from bot.media import MediaUnavailable
    from bot.core.messages import Media

    content = b"\xff\xd8\xff a signed permission slip \xff\xd9"
    fake.push_update(fake.message_update("/human"))
    async with running(tg_settings, homeroom) as channel:
        await settle(channel, 1)
        fake.push_update(fake.photo_update(caption="the slip", content=content))
        await settle(channel, 2)
        rows = await homeroom.db.run(lambda c: [json.loads(r[0]) for r in c.execute(
            "SELECT payload FROM outbox WHERE kind = 'ticket_thread'")])
        assert len(rows) == 1 and rows[0]["text"] == "the slip" and rows[0]["media"]["channel"] == "telegram"
        item = Media.from_dict(rows[0]["media"])
        assert item.kind == "photo" and item.size == len(content)
        assert await homeroom.media.fetch("telegram", item) == content
        with pytest.raises(MediaUnavailable, match="refused"):
            await homeroom.media.fetch("telegram", Media("photo", "no-such-file-id"))
    with pytest.raises(MediaUnavailable, match="not running"):  # the channel stopped
        await homeroom.media.fetch("telegram", item)


async def test_volunteer_sign_up_through_telegram_with_calendar_file(fake, tg_settings, homeroom):
    """A whole sign-up with taps, through the real Application: the buttons are inline keyboards,
    every tap a callback query on the message that carried it, and the .ics is a document."""
    async with running(tg_settings, homeroom) as channel:
        fake.push_update(fake.message_update("/volunteer", first_name="Maria"))
        await settle(channel, 1)
        for step, prefix in enumerate(("volunteer:opp:winter-book-fair", "volunteer:shift:", "volunteer:name",
                                       "volunteer:confirm:"), start=2):
            message_id, data = last_button(fake, prefix)
            fake.push_update(fake.callback_update(data, message_id=message_id, first_name="Maria"))
            await settle(channel, step)
        await fake.wait_for("sendDocument")
    texts = [html.unescape(p.get("text") or p.get("caption") or "") for p in fake.sent(DEFAULT_USER_ID)]
    assert any("You're signed up" in t and "Maria" in t for t in texts), texts
    [document] = [p for p in fake.sent(DEFAULT_USER_ID) if "document" in p]
    assert document["document"].filename.endswith(".ics")
    assert b"BEGIN:VEVENT" in document["document"].content
    assert channel.outcomes["replied"] == 5 and len(fake.calls("answerCallbackQuery")) == 4
    [(name, status)] = await homeroom.db.run(lambda c: c.execute(
        "SELECT name, status FROM signup_bookings").fetchall())
    assert (name, status) == ("Maria", "confirmed")


async def test_a_date_question_gets_the_calendars_answer_for_that_day_in_english_and_creole(fake, tg_settings,
                                                                                        homeroom):
    """'Is there school …?' through the real Application: the answer is the school calendar's for
    the day named (a holiday; Haitian Creole 'demen', tomorrow, an early release), in the family's
    language, with Creole dates from the curated date words."""
    from datetime import datetime, timezone

    homeroom.engine.clock = lambda: datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)  # Tue, Dec 1 at the school
    async with running(tg_settings, homeroom) as channel:
        fake.push_update(fake.message_update("is there school on january 18?"))
        fake.push_update(fake.message_update("èske gen lekòl demen", user_id=100002, first_name="Jean",
                                             language_code="ht"))
        await settle(channel, 2)
    [english] = [html.unescape(p["text"]) for p in fake.sent(DEFAULT_USER_ID)]
    assert english.startswith("No — Mon, Jan 18 is Martin Luther King Jr. Day. School reopens Tue, Jan 19."), english
    [creole] = [html.unescape(p["text"]) for p in fake.sent(100002)]
    assert creole.startswith("Wi, mèk 2 des se yon jou lekòl, men elèv yo ap sòti bonè "
                             "(chak mèkredi elèv yo sòti a 1:20 p.m.)."), creole


async def test_a_did_you_mean_tap_through_telegram_answers_for_the_day_asked(fake, tg_settings, homeroom):
    """The tap arrives as the button's label with its callback data: the data's day wins."""
    from datetime import datetime, timezone

    homeroom.engine.clock = lambda: datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)
    async with running(tg_settings, homeroom) as channel:
        fake.push_update(fake.message_update("is there school tomorrow after the threat"))
        await settle(channel, 1)
        message_id, data = last_button(fake, "intent:school_closure")
        assert data == "intent:school_closure:20261202"
        fake.push_update(fake.callback_update(data, message_id=message_id))
        await settle(channel, 2)
    said = html.unescape(fake.sent(DEFAULT_USER_ID)[-1]["text"])
    assert said.startswith("Yes, Wed, Dec 2 is a school day, but students go home early"), said


async def test_an_absence_reported_through_telegram_is_recorded_once(fake, tg_settings, homeroom):
    """The absence report through the real Application: the name typed, then every step a tap on
    the message that carried it; Confirm tapped twice (a double tap) records one absence."""
    async with running(tg_settings, homeroom) as channel:
        fake.push_update(fake.message_update("my son is sick today and won't be in school", first_name="Maria"))
        await settle(channel, 1)
        fake.push_update(fake.message_update("Mateo Lopez", first_name="Maria"))
        await settle(channel, 2)
        steps = ("absence:days:", "absence:why:sick", "absence:nonote", "absence:confirm:", "absence:confirm:")
        for step, prefix in enumerate(steps, start=3):
            message_id, data = last_button(fake, prefix)
            fake.push_update(fake.callback_update(data, message_id=message_id, first_name="Maria"))
            await settle(channel, step)
    texts = [html.unescape(p.get("text") or "") for p in fake.sent(DEFAULT_USER_ID)]
    assert any("Recorded" in t and "Mateo Lopez" in t for t in texts), texts
    assert len(fake.calls("answerCallbackQuery")) == 5
    [(child, reason)] = await homeroom.db.run(lambda c: c.execute("SELECT child, reason FROM absences").fetchall())
    assert (child, reason) == ("Mateo Lopez", "sick")


async def test_replies_keep_their_order_when_a_send_failed_and_the_outbox_took_over(fake, tg_settings, homeroom):
    """Telegram down for one reply: the outbox worker sends it later, and the family's next
    reply waits behind it rather than overtaking it."""
    from bot.channels.telegram.channel import register_outbox

    fake.fail_next("sendMessage", status=500, times=2)  # the first reply fails, its retry too
    fake.push_update(fake.message_update("What time does school start?"))
    async with running(tg_settings, homeroom, send_retries=1) as channel:
        channel.sender.retry_delay = 0.01
        await settle(channel, 1)
        assert channel.outcomes == {"send_deferred": 1} and fake.sent() == []
        fake.push_update(fake.message_update("Is the bus late today?"))
        await settle(channel, 2)
        assert channel.outcomes["queued_behind"] == 1 and fake.sent() == []  # not sent ahead of the first
        register_outbox(homeroom, channel)
        for _ in range(100):
            await homeroom.delivery.run_once()
            if len(fake.sent()) >= 2:
                break
            await asyncio.sleep(0.05)
        fake.push_update(fake.message_update("thanks!"))
        await settle(channel, 3)
    texts = [html.unescape(p["text"]) for p in fake.sent()]
    assert "8:10" in texts[0] and "bus" in texts[1].lower() and channel.outcomes["replied"] == 1


async def test_a_staff_reply_to_a_family_that_blocked_the_bot_is_never_called_delivered(fake, tg_settings,
                                                                                         homeroom):
    """Telegram answers 403 (the family blocked the bot): the row is given up at once, the
    ticket says so, and the staff line queued is "Not delivered …", never "Delivered"."""
    from bot.channels.telegram.channel import register_outbox
    from bot.storage import tickets

    fake.push_update(fake.message_update("/human"))
    async with running(tg_settings, homeroom) as channel:
        await settle(channel, 1)
        register_outbox(homeroom, channel)
        [ticket] = await homeroom.db.run(tickets.list_open)
        await homeroom.handoff.reply(ticket.id, "sam", "We will call you this afternoon.")
        fake.fail_next("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
        for _ in range(5):
            await homeroom.delivery.run_once()
    assert not [p for p in fake.sent() if "call you this afternoon" in p.get("text", "")]
    staff_lines = await homeroom.db.run(lambda c: [json.loads(r[0])["text"] for r in c.execute(
        "SELECT payload FROM outbox WHERE channel = 'staff' AND kind = 'ticket_context'")])
    assert len(staff_lines) == 1 and staff_lines[0].startswith("Not delivered to the family: Telegram refused it")
    assert "blocked by the user" in staff_lines[0]
    events = [e for e in await homeroom.db.run(tickets.events, ticket.id) if e[0] == "undelivered"]
    assert len(events) == 1 and "blocked by the user" in events[0][2]
    status, acked = await homeroom.db.run(lambda c: c.execute(
        "SELECT status, acknowledged_at FROM outbox WHERE kind = 'message'").fetchone())
    assert status == "dead" and acked  # nobody can fix it by retrying: homeroom status stays green
