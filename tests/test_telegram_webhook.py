"""Telegram webhook mode, offline: the real Application with our aiohttp webhook server, the
fake Bot API for everything Telegram does besides POSTing updates (setWebhook, sendMessage),
and the test playing Telegram's side of the webhook (POST with the secret header)."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import asynccontextmanager

import aiohttp
import pytest

from aiohttp.test_utils import TestClient, TestServer

from bot.app import start
from bot.channels.telegram import build_channel
from bot.channels.telegram.channel import webhook_health
from bot.channels.telegram.webhook import SECRET_HEADER, WebhookServer, default_secret
from bot.config import ConfigError, Settings
from bot.core.messages import utcnow
from bot.ops.health import health_app
from bot.ops.status import ChannelHealth, status_source
from bot.outbox_messages import TicketContext
from bot.storage import outbox
from fakes.telegram_api import DEFAULT_TOKEN, DEFAULT_USER_ID, FakeBotAPI

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
SECRET = "s3cret_Token-for-tests"


@pytest.fixture
async def fake():
    async with FakeBotAPI(token=DEFAULT_TOKEN) as server:
        yield server


def webhook_settings(tmp_path, fake: FakeBotAPI, **extra: str) -> Settings:
    env = {"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
           "TELEGRAM_API_BASE_URL": fake.base_url, "TELEGRAM_API_FILE_URL": fake.base_file_url,
           "TELEGRAM_WEBHOOK_URL": "https://homeroom.example.org/telegram/hook",
           "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1:0"}
    env.update(extra)
    return Settings.from_env(env)


@asynccontextmanager
async def webhook_channel(settings: Settings, channels: ChannelHealth | None = None):
    """The channel on the webhook port; with `channels`, /healthz is wired as `homeroom run` does."""
    homeroom = await start(settings)
    channel = build_channel(settings, homeroom, pace=0, channel_health=channels)
    if channels is not None:
        channel.health = webhook_health(homeroom, channels)
    try:
        await channel.start()
        async with aiohttp.ClientSession() as session:
            yield channel, homeroom, session, f"http://127.0.0.1:{channel.webhook.port}"
    finally:
        await channel.stop()
        await homeroom.close()


_ids = iter(range(1000, 10**6))


def update_for(fake: FakeBotAPI, text: str) -> dict:
    """An update as Telegram POSTs it (with its update_id)."""
    return fake.message_update(text, update_id=next(_ids))


def inbox_rows(settings: Settings) -> list[tuple]:
    with sqlite3.connect(settings.db_path) as conn:
        return conn.execute("SELECT update_id, handled_at IS NOT NULL FROM inbox ORDER BY update_id").fetchall()


async def test_webhook_is_registered_with_its_secret_and_answers_a_parent(tmp_path, fake):
    settings = webhook_settings(tmp_path, fake)
    async with webhook_channel(settings) as (channel, homeroom, session, base):
        assert fake.webhook_url == "https://homeroom.example.org/telegram/hook"
        (call,) = fake.calls("setWebhook")
        assert call.params["secret_token"] == SECRET
        assert "callback_query" in call.params["allowed_updates"]
        update = update_for(fake, "What time does school start?")
        async with session.post(f"{base}/telegram/hook", json=update, headers={SECRET_HEADER: SECRET}) as resp:
            assert resp.status == 200
        (sent,) = await fake.wait_for("sendMessage")
        assert sent.params["chat_id"] == DEFAULT_USER_ID
        assert "8:" in sent.params["text"] or "bell" in sent.params["text"].lower()
        async with session.get(f"{base}/healthz") as resp:
            assert resp.status == 200 and await resp.text() == "ok"
    # getUpdates is never called in webhook mode (Telegram would answer 409 Conflict)
    assert not fake.calls("getUpdates")


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}])
async def test_wrong_or_missing_secret_is_refused_and_writes_nothing(tmp_path, fake, headers):
    settings = webhook_settings(tmp_path, fake)
    async with webhook_channel(settings) as (channel, homeroom, session, base):
        update = update_for(fake, "hello")
        async with session.post(f"{base}/telegram/hook", json=update, headers=headers) as resp:
            assert resp.status == 403
        await asyncio.sleep(0.05)
        assert not fake.calls("sendMessage")
    assert inbox_rows(settings) == []
    with sqlite3.connect(settings.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM families").fetchone()[0] == 0


async def test_redelivered_update_is_handled_once(tmp_path, fake):
    settings = webhook_settings(tmp_path, fake)
    async with webhook_channel(settings) as (channel, homeroom, session, base):
        update = update_for(fake, "/start")
        for _ in range(3):  # Telegram re-sends when it did not see our 200
            async with session.post(f"{base}/telegram/hook", json=update, headers={SECRET_HEADER: SECRET}) as resp:
                assert resp.status == 200
        await fake.wait_for("sendMessage")
        await asyncio.sleep(0.2)
        assert len(fake.calls("sendMessage")) == 1
    assert inbox_rows(settings) == [(update["update_id"], 1)]


async def test_bad_bodies_get_400(tmp_path, fake):
    settings = webhook_settings(tmp_path, fake)
    async with webhook_channel(settings) as (channel, homeroom, session, base):
        for body in (b"not json", b"[1, 2]", b'{"update_id": "7"}'):
            async with session.post(f"{base}/telegram/hook", data=body, headers={SECRET_HEADER: SECRET}) as resp:
                assert resp.status == 400
        async with session.post(f"{base}/elsewhere", json={}, headers={SECRET_HEADER: SECRET}) as resp:
            assert resp.status in (404, 405)
    assert inbox_rows(settings) == []


async def test_update_stored_but_not_handled_before_a_crash_is_handled_on_restart(tmp_path, fake, monkeypatch):
    """The 200 goes back only after the inbox row is written; if the process dies before the
    engine ran, the next start handles it (and Telegram is not asked again)."""
    settings = webhook_settings(tmp_path, fake)
    async with webhook_channel(settings) as (channel, homeroom, session, base):
        async def lost(update):  # the handler never runs: as if the process died right here
            return None
        monkeypatch.setattr(channel.application.update_queue, "put", lost)
        update = update_for(fake, "/start")
        async with session.post(f"{base}/telegram/hook", json=update, headers={SECRET_HEADER: SECRET}) as resp:
            assert resp.status == 200
        monkeypatch.undo()  # PTB's own stop sentinel must get through
    assert inbox_rows(settings) == [(update["update_id"], 0)]
    async with webhook_channel(settings):
        await fake.wait_for("sendMessage")
    assert inbox_rows(settings) == [(update["update_id"], 1)]


def test_default_secret_is_stable_and_allowed_by_telegram(tmp_path, fake):
    secret = default_secret(DEFAULT_TOKEN)
    assert secret == default_secret(DEFAULT_TOKEN) != default_secret(DEFAULT_TOKEN + "x")
    Settings.from_env({"TELEGRAM_WEBHOOK_SECRET": secret})  # valid characters and length
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        Settings.from_env({"TELEGRAM_WEBHOOK_SECRET": "has spaces"})
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_URL"):
        Settings.from_env({"TELEGRAM_WEBHOOK_URL": "homeroom.example.org"})
    assert Settings.from_env({"PORT": "5005"}).telegram_webhook_listen == "0.0.0.0:5005"


# -- /healthz on the public port --------------------------------------------------------------

async def public_health(session: aiohttp.ClientSession, base: str) -> tuple[int, str, str]:
    async with session.get(f"{base}/healthz") as resp:
        return resp.status, resp.content_type, await resp.text()


async def test_healthz_on_the_webhook_port_says_only_ok_or_unavailable(tmp_path, fake):
    """Anyone on the internet can ask the webhook port: it says green or not and nothing about
    the server, while the private HOMEROOM_HEALTH_LISTEN endpoint keeps the details."""
    settings = webhook_settings(tmp_path, fake)
    channels = ChannelHealth()
    async with webhook_channel(settings, channels) as (channel, homeroom, session, base):
        assert await public_health(session, base) == (200, "text/plain", "ok")

        def dead_message(conn) -> None:  # a staff message given up after its retries: status is red
            row = outbox.add(conn, "slack", "C1", TicketContext("x"), utcnow().isoformat())
            outbox.mark_failed(conn, row, "channel_not_found", utcnow(), None, max_attempts=1)
        await homeroom.db.transact(dead_message)
        assert await public_health(session, base) == (503, "text/plain", "unavailable")

        async with TestClient(TestServer(health_app(status_source(homeroom, channels)))) as private:
            response = await private.get("/healthz")
            details = await response.json()
    assert response.status == 503 and details["status"] == "red"
    assert details["database"]["path"] == str(settings.db_path)
    assert details["backups"]["dir"] and "open" in details["tickets"]
    assert details["dead_outbox"]["recent"] == {"slack": 1}
    assert any("could not be delivered" in reason for reason in details["reasons"])
    assert details["channels"]["telegram"]["detail"] == "webhook"


async def test_webhook_healthz_says_unavailable_when_the_status_cannot_be_read():
    async def accept(raw) -> bool:
        return True

    async def broken() -> bool:
        raise RuntimeError("cannot open /srv/homeroom/data/homeroom.sqlite3")

    server = WebhookServer("/hook", SECRET, "127.0.0.1:0", accept, broken)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            assert await public_health(session, f"http://127.0.0.1:{server.port}") == \
                (503, "text/plain", "unavailable")
    finally:
        await server.stop()
