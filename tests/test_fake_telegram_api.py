"""Self-tests of tests/fakes/telegram_api.py, driven by the real python-telegram-bot.

Why: the fake is only worth trusting if PTB's own Application, Updater, rate limiter and
request layer accept what it answers, and if its payloads match the recorded fixtures.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from fakes.telegram_api import DEFAULT_TOKEN, DEFAULT_USER_ID, Call, FakeBotAPI, UploadedFile

TOKEN = DEFAULT_TOKEN
# PTB itself reads RetryAfter.retry_after (AIORateLimiter), which warns about its future type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
FIXTURES = Path(__file__).parent / "fixtures" / "telegram"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(fake_api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake_api.base_url, base_file_url=fake_api.base_file_url) as b:
        yield b


def build_app(fake: FakeBotAPI, *, rate_limiter: AIORateLimiter | None = None) -> Application:
    builder = (
        ApplicationBuilder().token(TOKEN).base_url(fake.base_url).base_file_url(fake.base_file_url)
    )
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    return builder.build()


@asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    """Run the app the way production does (long polling), and always stop it cleanly."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


def paths(value: Any, prefix: str = "") -> set[str]:
    """Key paths of a JSON value, lists collapsed to `[]`: compares shapes, not values."""
    if isinstance(value, dict):
        out = {prefix} if prefix else set()
        for key, item in value.items():
            out |= paths(item, f"{prefix}.{key}" if prefix else key)
        return out
    if isinstance(value, list):
        out = {prefix}
        for item in value:
            out |= paths(item, f"{prefix}[]")
        return out
    return {prefix}


# ------------------------------------------------------------------ the six required cases


async def test_echo_handler_replies_through_polling(fake_api: FakeBotAPI) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app = build_app(fake_api)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    update = fake_api.message_update("When is the meeting?", chat_id=4242, user_id=4242)
    fake_api.push_update(update)
    async with polling(app):
        (call,) = await fake_api.wait_for("sendMessage")
    assert call.ok
    assert call.params["chat_id"] == 4242
    assert call.params["text"] == "echo: When is the meeting?"
    assert fake_api.sent(4242) == [call.params]
    assert fake_api.pending_updates == []  # the updater confirmed it on the way out


async def test_start_command_gets_args(fake_api: FakeBotAPI) -> None:
    seen: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(list(context.args or []))
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "Welcome!")

    app = build_app(fake_api)
    app.add_handler(CommandHandler("start", start))
    update = fake_api.push_update(fake_api.message_update("/start volunteer"))
    assert update["message"]["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    async with polling(app):
        await fake_api.wait_for("sendMessage")
    assert seen == [["volunteer"]]


async def test_callback_query_is_answered(fake_api: FakeBotAPI) -> None:
    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        await query.answer(text=f"picked {query.data}")
        await query.edit_message_text(f"Language: {query.data}")

    app = build_app(fake_api)
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^lang:"))
    update = fake_api.push_update(fake_api.callback_update("lang:es", message_id=7))
    async with polling(app):
        (answer,) = await fake_api.wait_for("answerCallbackQuery")
        (edit,) = await fake_api.wait_for("editMessageText")
    query_id = update["callback_query"]["id"]
    assert answer.params == {"callback_query_id": query_id, "text": "picked lang:es"}
    assert edit.ok and edit.params["message_id"] == 7
    # editMessageText without reply_markup drops the inline keyboard, as Telegram does.
    assert "reply_markup" not in edit.response["result"]


async def test_429_raises_retry_after(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.fail_next("sendMessage", status=429, retry_after=1)
    with pytest.raises(RetryAfter, match="(?i)retry in 1"):
        await bot.send_message(DEFAULT_USER_ID, "hello")
    (failed,) = fake_api.calls("sendMessage")
    assert failed.status == 429 and failed.response == load("error_429_response")
    assert fake_api.sent() == []
    await bot.send_message(DEFAULT_USER_ID, "hello")  # the fault was for one call only
    assert len(fake_api.sent()) == 1


async def test_rate_limiter_delivers_once_after_429(fake_api: FakeBotAPI) -> None:
    fake_api.fail_next("sendMessage", status=429, retry_after=1)
    app = build_app(fake_api, rate_limiter=AIORateLimiter(max_retries=1))
    async with app:
        message = await app.bot.send_message(DEFAULT_USER_ID, "Reminder: trip on Friday")
    assert message.text == "Reminder: trip on Friday"
    first, second = fake_api.calls("sendMessage")
    assert [first.status, second.status] == [429, 200]
    assert len(fake_api.calls("sendMessage", ok=True)) == 1
    assert second.at - first.at >= 1.0  # retry_after honoured, as the far end saw it


async def test_send_document_records_filename_and_bytes(fake_api: FakeBotAPI, bot: Bot) -> None:
    content = b"%PDF-1.4 permission slip\n"
    message = await bot.send_document(
        DEFAULT_USER_ID, InputFile(content, filename="permission-slip.pdf"), caption="Please sign"
    )
    (call,) = fake_api.calls("sendDocument")
    assert call.files["document"].filename == "permission-slip.pdf"
    assert call.files["document"].content == content
    (sent,) = fake_api.sent(DEFAULT_USER_ID)
    assert sent["caption"] == "Please sign"
    assert sent["document"] == UploadedFile("permission-slip.pdf", content, "application/pdf")
    assert message.document is not None
    assert message.document.file_name == "permission-slip.pdf"
    assert message.document.file_size == len(content)
    # Plain bytes work too; the uploaded file is downloadable through base_file_url.
    second = await bot.send_document(DEFAULT_USER_ID, b"a,b\n1,2\n", filename="marks.csv")
    assert fake_api.sent()[-1]["document"].content == b"a,b\n1,2\n"
    tg_file = await bot.get_file(second.document.file_id)  # type: ignore[union-attr]
    assert bytes(await tg_file.download_as_bytearray()) == b"a,b\n1,2\n"


async def test_wrong_token_is_invalid_token(fake_api: FakeBotAPI) -> None:
    app = ApplicationBuilder().token("999:WRONG").base_url(fake_api.base_url).build()
    with pytest.raises(InvalidToken):  # PTB rewrites the 401 text into its own message
        await app.initialize()
    await app.bot.request.shutdown()
    assert [(c.method, c.status) for c in fake_api.requests] == [("getMe", 401)]
    unauthorized = {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert fake_api.requests[0].response == unauthorized


# ------------------------------------------------------------------ more of the fake's contract


async def test_get_updates_offset_duplicates_and_order(fake_api: FakeBotAPI, bot: Bot) -> None:
    first = fake_api.push_update(fake_api.message_update("one"))
    fake_api.push_update(first)  # the same update_id again: a duplicate delivery
    fake_api.push_update(fake_api.message_update("five", update_id=5))
    fake_api.push_update(fake_api.message_update("three", update_id=3))  # out of order
    assert [u.update_id for u in await bot.get_updates()] == [1, 1, 5, 3]
    assert [u.update_id for u in await bot.get_updates(limit=2)] == [1, 1]
    assert [u.update_id for u in await bot.get_updates(offset=2)] == [5, 3]
    assert [u.update_id for u in await bot.get_updates(offset=4)] == [5]
    assert await bot.get_updates(offset=6) == ()
    assert fake_api.push_update(fake_api.message_update("next"))["update_id"] == 6  # monotonic
    fake_api.push_update(fake_api.message_update("last"))
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [7]
    assert fake_api.confirmed_offset == 6


async def test_long_poll_waits_capped_and_wakes_on_push(fake_api: FakeBotAPI, bot: Bot) -> None:
    # capped at max_poll_timeout = 1 s: a 30 s poll returns empty (the bound only guards a hang)
    assert await asyncio.wait_for(bot.get_updates(timeout=30), 20) == ()

    async def push_soon() -> None:
        await asyncio.sleep(0.1)
        fake_api.push_update(fake_api.message_update("late"))

    fake_api.max_poll_timeout = 60  # so only a wake-up on the push can end this poll early
    pusher = asyncio.create_task(push_soon())
    updates = await asyncio.wait_for(bot.get_updates(timeout=30, read_timeout=60), 20)
    await pusher
    assert [u.message.text for u in updates] == ["late"]  # type: ignore[union-attr]


async def test_500_and_unknown_method(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.fail_next("sendMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(DEFAULT_USER_ID, "x")
    await bot.send_message(DEFAULT_USER_ID, "x")
    assert [c.status for c in fake_api.calls("sendMessage")] == [500, 500, 200]
    assert fake_api.calls("sendMessage", ok=False)[0].response == {
        "ok": False, "error_code": 500, "description": "Internal Server Error",
    }
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendHologram")
    assert fake_api.requests[-1].status == 404 and fake_api.requests[-1].response["ok"] is False


async def test_wait_for_times_out_with_what_it_saw(fake_api: FakeBotAPI, bot: Bot) -> None:
    await bot.send_chat_action(DEFAULT_USER_ID, "typing")
    with pytest.raises(AssertionError, match=r"sendMessage.*sendChatAction\[200\]"):
        await fake_api.wait_for("sendMessage", timeout=0.1)


async def test_edit_semantics(fake_api: FakeBotAPI, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="rsvp:yes")]])
    sent = await bot.send_message(DEFAULT_USER_ID, "Coming?", reply_markup=keyboard)
    assert sent.reply_markup == keyboard and sent.from_user.id == bot.id  # type: ignore[union-attr]
    mid = sent.message_id
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_text("Coming?", DEFAULT_USER_ID, mid, reply_markup=keyboard)
    edited = await bot.edit_message_text("Coming? (closed)", DEFAULT_USER_ID, sent.message_id)
    assert isinstance(edited, Message) and edited.reply_markup is None and edited.edit_date
    again = await bot.edit_message_reply_markup(DEFAULT_USER_ID, mid, reply_markup=keyboard)
    assert isinstance(again, Message) and again.reply_markup == keyboard
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x" * 65)]])
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(DEFAULT_USER_ID, "x", reply_markup=too_long)
    second = await bot.send_message(DEFAULT_USER_ID, "next")
    assert second.message_id == sent.message_id + 1  # message ids grow per chat


async def test_commands_and_webhook(fake_api: FakeBotAPI, bot: Bot) -> None:
    assert await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    assert await bot.set_my_commands([BotCommand("start", "Empezar")], language_code="es")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert [c.description for c in await bot.get_my_commands(language_code="es")] == ["Empezar"]
    assert await bot.get_my_commands(scope=BotCommandScopeChat(DEFAULT_USER_ID)) == ()
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start-Now", "bad")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()

    fake_api.push_update(fake_api.message_update("queued"))
    assert await bot.set_webhook("https://example.invalid/hook")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    with pytest.raises(Conflict, match="(?i)webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == "" and fake_api.pending_updates == []


async def test_other_update_kinds_through_polling(fake_api: FakeBotAPI) -> None:
    """A group /help@bot command, an edited message and a photo reach their handlers."""
    photo_bytes = b"\xff\xd8\xff\xe0 fake jpeg"

    async def help_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("help")  # type: ignore[union-attr]

    async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.edited_message is not None
        text = f"edited: {update.edited_message.text}"
        await context.bot.send_message(update.effective_chat.id, text)

    async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        data = await (await message.photo[-1].get_file()).download_as_bytearray()
        await message.reply_text(f"photo {len(data)} bytes: {message.caption}")

    app = build_app(fake_api)
    app.add_handler(CommandHandler("help", help_cmd))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.TEXT, edited))
    app.add_handler(MessageHandler(filters.PHOTO, photo))
    group_help = fake_api.message_update("/help@HomeroomTestBot", chat_type="supergroup", user_id=7)
    fake_api.push_update(group_help)
    fake_api.push_update(fake_api.edited_message_update("fixed typo", message_id=3))
    fake_api.push_update(fake_api.photo_update(caption="slip", content=photo_bytes))
    async with polling(app):
        calls = await fake_api.wait_for("sendMessage", count=3)
    by_text = {c.params["text"]: c.params["chat_id"] for c in calls}
    assert by_text == {
        "help": -1001987654321,
        "edited: fixed typo": DEFAULT_USER_ID,
        f"photo {len(photo_bytes)} bytes: slip": DEFAULT_USER_ID,
    }
    group_reply = next(c for c in calls if c.params["text"] == "help")
    assert group_reply.response["result"]["chat"] == {
        "id": -1001987654321, "title": "Homeroom Parents 3B", "type": "supergroup",
    }


async def test_request_encodings(fake_api: FakeBotAPI) -> None:
    """GET, JSON and form bodies all work; string params such as text stay strings."""
    url = f"{fake_api.base_url}{TOKEN}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == "HomeroomTestBot"
        async with session.post(f"{url}/sendMessage", json={"chat_id": 5, "text": "42"}) as resp:
            assert resp.status == 200
        async with session.post(
            f"{url}/SENDMESSAGE",
            data={"chat_id": "6", "text": "7", "reply_markup": '{"inline_keyboard": []}'},
        ) as resp:
            assert (await resp.json())["result"]["reply_markup"] == {"inline_keyboard": []}
        async with session.post(f"{url}/sendMessage", data={"chat_id": "6", "text": ""}) as resp:
            assert resp.status == 400
            assert (await resp.json())["description"] == "Bad Request: message text is empty"
    assert fake_api.requests[0].http_method == "GET"
    assert [(p["chat_id"], p["text"]) for p in fake_api.sent()] == [(5, "42"), (6, "7")]
    assert isinstance(fake_api.requests[2], Call) and fake_api.requests[2].method == "sendMessage"


# ------------------------------------------------------------------ recorded payloads


@pytest.mark.parametrize(
    "name",
    [
        "private_text_message_update",
        "group_message_update",
        "callback_query_update",
        "edited_message_update",
        "photo_message_update",
    ],
)
async def test_fixture_updates_parse_in_ptb(name: str) -> None:
    data = load(name)
    update = Update.de_json(data, None)
    assert update.update_id == data["update_id"]
    assert update.effective_chat is not None and update.effective_user is not None


async def test_builders_match_recorded_shapes(fake_api: FakeBotAPI, bot: Bot) -> None:
    ana = {"username": "ana_silva", "language_code": "es"}
    built = {
        "private_text_message_update": fake_api.message_update("When?", **ana),
        "group_message_update": fake_api.message_update(
            "/help@HomeroomTestBot", user_id=100002, first_name="Ben", chat_type="supergroup"
        ),
        "callback_query_update": fake_api.callback_update(
            "lang:es", inline_keyboard=[[{"text": "English", "callback_data": "lang:en"}]], **ana
        ),
        "edited_message_update": fake_api.edited_message_update("When, again?", **ana),
        "photo_message_update": fake_api.photo_update(caption="slip", **ana),
    }
    for name, update in built.items():
        update = fake_api.push_update(update)
        assert paths(update) == paths(load(name)), name
    group = load("group_message_update")["message"]["entities"]
    assert built["group_message_update"]["message"]["entities"] == group

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Add", callback_data="cal:1")]])
    await bot.send_message(DEFAULT_USER_ID, "Thursday 18:00", reply_markup=keyboard)
    response = fake_api.calls("sendMessage")[-1].response
    assert paths(response) == paths(load("send_message_response"))
    assert Message.de_json(load("send_message_response")["result"], None).text
