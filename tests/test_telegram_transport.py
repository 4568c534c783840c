"""The aiohttp transport under PTB (bot/channels/telegram/transport.py): what httpx did for us
must still hold — parameters and uploads arrive as Telegram documents them, a dead or slow
server is the error PTB expects, and a school behind a proxy is served through it."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import NetworkError, TimedOut

from bot.channels.telegram.transport import AiohttpRequest
from fakes.telegram_api import DEFAULT_TOKEN, FakeBotAPI


@pytest.fixture
async def fake():
    async with FakeBotAPI(token=DEFAULT_TOKEN) as server:
        yield server


def bot_for(base: str, **options) -> Bot:
    return Bot(DEFAULT_TOKEN, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
               request=AiohttpRequest(**options))


async def test_parameters_keyboards_and_files_arrive_as_documented(fake):
    async with bot_for(fake.base_url.removesuffix("/bot")) as bot:
        me = await bot.get_me()
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Sí, ñandú & <b>", callback_data="v:1")]])
        message = await bot.send_message(123, "Hola <b>familia</b> & 👋", parse_mode="HTML", reply_markup=markup)
        await bot.send_document(123, InputFile(b"BEGIN:VCALENDAR\r\n", filename="conference.ics"),
                                caption="Añadir al calendario")
    sent = fake.calls("sendMessage")[0].params
    assert me.is_bot and message.message_id and sent["text"] == "Hola <b>familia</b> & 👋"
    assert sent["reply_markup"]["inline_keyboard"][0][0] == {"text": "Sí, ñandú & <b>", "callback_data": "v:1"}
    upload = fake.calls("sendDocument")[0]
    assert upload.params["caption"] == "Añadir al calendario"
    assert upload.files["document"].filename == "conference.ics"
    assert upload.files["document"].content == b"BEGIN:VCALENDAR\r\n"


async def test_a_file_is_downloaded_through_the_file_url(fake):
    async with bot_for(fake.base_url.removesuffix("/bot")) as bot:
        sent = await bot.send_document(123, InputFile(b"\x89PNG photo bytes", filename="photo.png"))
        file = await bot.get_file(sent.document.file_id)
        assert bytes(await file.download_as_bytearray()) == b"\x89PNG photo bytes"


async def test_nobody_listening_is_a_network_error():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    bot = bot_for(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.initialize()  # getMe
    finally:
        await bot.shutdown()
    assert not isinstance(caught.value, TimedOut) and "aiohttp" in str(caught.value)


async def test_a_server_that_does_not_answer_times_out():
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        bot = bot_for(f"http://127.0.0.1:{port}", read_timeout=0.3)
        began = asyncio.get_running_loop().time()
        with pytest.raises(TimedOut):
            await bot.initialize()  # getMe
        assert asyncio.get_running_loop().time() - began < 3
        await bot.shutdown()
    finally:
        release.set()
        await runner.cleanup()


async def test_an_http_proxy_from_the_environment_is_used(fake, monkeypatch):
    """A district network that only reaches Telegram through a proxy: HTTP_PROXY is honoured
    (the fake answers proxied requests too, so a host that does not exist is reached)."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{fake.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with bot_for("http://api.telegram.invalid") as bot:
        assert (await bot.get_me()).is_bot


async def test_no_proxy_wins_over_the_proxy(fake, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    async with bot_for(fake.base_url.removesuffix("/bot")) as bot:
        assert (await bot.get_me()).is_bot


async def test_a_long_poll_outlasts_the_read_timeout():
    """getUpdates waits `timeout` seconds on Telegram's side: PTB adds it to the read timeout,
    and this transport must honour the sum (a poll cut short at the read timeout would turn
    every quiet minute into network errors)."""
    async with FakeBotAPI(token=DEFAULT_TOKEN, max_poll_timeout=5) as quiet:
        async with bot_for(quiet.base_url.removesuffix("/bot"), read_timeout=0.3) as bot:
            began = asyncio.get_running_loop().time()
            assert await bot.get_updates(timeout=1) == ()
            assert asyncio.get_running_loop().time() - began >= 0.9
