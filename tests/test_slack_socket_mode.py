"""Slack hand-off in Socket Mode, offline: `serve_slack` (the production runner) with
SLACK_APP_TOKEN set, its real slack_sdk aiohttp SocketModeClient talking to the mock's
websocket (tests/fakes/slack_api.py), a real Homeroom on a temporary data dir, and the family
side through the engine and the outbox.

What matters in Socket Mode: every envelope is acknowledged (an unacknowledged one is delivered
again and again), a redelivered event reaches the family once, and a dropped link is reopened."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import start
from bot.channels.slack import serve_slack
from bot.config import REPO_ROOT, ConfigError, Settings
from bot.core.messages import Incoming
from bot.storage import outbox, tickets
from bot.translation import FakeTranslator
from fakes.slack_api import APP_TOKEN, BOT_TOKEN, RESPONSE_URL, SOCKET, MockSlackAPI
from test_slack import OUTSIDER, SLACK_TABLE, SPECIAL_ED, STAFF, TRIAGE, until

CONNECT = "apps.connections.open"


@pytest.fixture
async def mock():
    async with MockSlackAPI() as api:
        api.set_members(TRIAGE, [STAFF])
        yield api


def socket_settings(tmp_path: Path, mock: MockSlackAPI, app_token: str = APP_TOKEN) -> Settings:
    profile = tmp_path / "school.toml"
    profile.write_text((REPO_ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8") + SLACK_TABLE,
                       encoding="utf-8")
    return Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "HOMEROOM_SCHOOL_PROFILE": str(profile),
                              "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": app_token,
                              "SLACK_API_URL": mock.base_url})


class Running:
    """A Homeroom served by `serve_slack` in Socket Mode, with a recording family channel."""

    def __init__(self, settings: Settings, mock: MockSlackAPI) -> None:
        self.settings, self.mock = settings, mock
        self.parent: list[dict[str, Any]] = []
        self.replies: list[Any] = []  # every Handoff.reply outcome (duplicates too)
        self.stop = asyncio.Event()

    async def start(self) -> "Running":
        self.home = await start(self.settings, translator=FakeTranslator(languages=["en", "vi"]))

        async def parent_sender(item: outbox.Item) -> None:
            self.parent.append({"target": item.target, **item.message.to_payload()})
        self.home.delivery.register("test", parent_sender)
        real = self.home.handoff.reply

        async def counting(*args, **kwargs):
            outcome = await real(*args, **kwargs)
            self.replies.append(outcome)
            return outcome
        self.home.handoff.reply = counting  # the Slack listeners use this Handoff (same note prefix)
        self.task = asyncio.ensure_future(serve_slack(self.settings, self.home, self.stop, pace=0))
        await until(lambda: self.mock.sockets_open or self.task.done(), what="the Socket Mode connection")
        if self.task.done():
            self.task.result()  # start-up failed: raise it here
        return self

    async def close(self) -> None:
        self.stop.set()
        try:
            assert await asyncio.wait_for(self.task, 15) == 0
        finally:
            await self.home.close()

    async def say(self, user: str, text: str = "", payload: str | None = None) -> None:
        await self.home.engine.handle(Incoming("test", user, user, text, payload=payload,
                                               display_name=f"Family {user}"))

    async def open_ticket(self, user: str = "p1") -> tickets.Ticket:
        """A Vietnamese-speaking family hands off; the running outbox worker posts the ticket."""
        await self.say(user, "/language")
        await self.say(user, payload="lang:vi")
        await self.say(user, SPECIAL_ED)
        posted = await until(lambda: self._posted(), what="the ticket in Slack")
        return posted[0]

    async def _posted(self) -> list[tickets.Ticket]:
        return [t for t in await self.home.db.run(tickets.list_open) if t.staff_ref]

    def staff_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.parent if m.get("from") == "staff"]

    async def idle(self) -> bool:
        return (await self.home.db.run(outbox.depth))[0] == 0


def thread_reply(ticket: tickets.Ticket, user: str, text: str) -> dict[str, Any]:
    channel, _, ts = ticket.staff_ref.partition(":")
    now = f"{time.time():.6f}"
    return {"type": "message", "channel": channel, "channel_type": "channel", "user": user, "text": text,
            "ts": now, "thread_ts": ts, "event_ts": now}


async def test_socket_mode_acks_everything_relays_once_and_reconnects(tmp_path, mock):
    run = await Running(socket_settings(tmp_path, mock), mock).start()
    try:
        [opened] = mock.calls(CONNECT)
        assert opened.status == 200 and mock.received_count(SOCKET) == 1
        ticket = await run.open_ticket()
        run.parent.clear()

        # a staff reply in the ticket's thread: acked, relayed to the family once, translated
        reply = thread_reply(ticket, STAFF, "We will call you *today*.")
        first = await mock.push_event(reply, event_id="Ev0SOCKET01")
        assert await mock.wait_for_ack(first) == {"envelope_id": first}
        [relayed] = await until(run.staff_messages, what="the reply at the family")
        assert relayed["target"] == "p1" and relayed["text"].startswith("[vi] We will call you *today*.")

        # Slack delivers the same event again in a new envelope: acked, not relayed again
        again = await mock.push_event(reply, event_id="Ev0SOCKET01", retry_attempt=1, retry_reason="timeout")
        assert await mock.wait_for_ack(again) == {"envelope_id": again}
        await until(lambda: len(run.replies) == 2, what="the redelivery handled")
        assert [o.duplicate for o in run.replies] == [False, True]
        await until(run.idle, what="an empty outbox")
        assert len(run.staff_messages()) == 1
        staff_events = [e for e in await run.home.db.run(tickets.events, ticket.id) if e[0] == "staff"]
        assert len(staff_events) == 1

        # an event no Homeroom listener is about is acknowledged all the same
        reaction = {"type": "reaction_added", "user": STAFF, "reaction": "eyes",
                    "item": {"type": "message", "channel": TRIAGE, "ts": ticket.staff_ref.partition(":")[2]},
                    "event_ts": f"{time.time():.6f}"}
        ignored = await mock.push_event(reaction)
        assert await mock.wait_for_ack(ignored) == {"envelope_id": ignored}

        # /homeroom tickets: acked at once, answered through response_url
        command = await mock.push_command("/homeroom", "tickets", STAFF, TRIAGE)
        assert await mock.wait_for_ack(command) == {"envelope_id": command}
        [listing] = await mock.wait_for(RESPONSE_URL)
        assert f"#{ticket.id}" in json.dumps(listing.params) and listing.params["response_type"] == "ephemeral"
        # a command that is not ours: the ack itself carries the answer
        other = await mock.push_command("/weather", "", STAFF, TRIAGE)
        assert (await mock.wait_for_ack(other))["payload"] == {"text": "This command is not handled by Homeroom."}
        # a click no listener knows: acked
        click = await mock.push_action("something_else", "x", STAFF, TRIAGE, "1700000000.000100")
        assert await mock.wait_for_ack(click) == {"envelope_id": click}

        # Slack drops the link: the client asks for a new URL, reconnects, and handles the next envelope
        assert await mock.drop_socket() == 1
        await mock.wait_for_socket(connections=2)
        assert mock.received_count(CONNECT) == 2
        later = await mock.push_event(thread_reply(ticket, STAFF, "See you at 3 pm."))
        assert await mock.wait_for_ack(later) == {"envelope_id": later}
        await until(lambda: len(run.staff_messages()) == 2, what="the second reply at the family")
        assert run.staff_messages()[1]["text"].startswith("[vi] See you at 3 pm.")

        # Slack asks for a refresh (a `disconnect` message): a new link, and a button click over it
        await mock.request_refresh()
        await mock.wait_for_socket(connections=3)
        assert mock.received_count(CONNECT) == 3
        _, _, ts = ticket.staff_ref.partition(":")
        outsider = await mock.push_action("homeroom_resolve", str(ticket.id), OUTSIDER, TRIAGE, ts)
        assert await mock.wait_for_ack(outsider) == {"envelope_id": outsider}
        refused = (await mock.wait_for(RESPONSE_URL, 2))[1]
        assert "Only school staff" in refused.params["text"]
        resolve = await mock.push_action("homeroom_resolve", str(ticket.id), STAFF, TRIAGE, ts)
        assert await mock.wait_for_ack(resolve) == {"envelope_id": resolve}
        await until(lambda: _status(run, ticket.id, "resolved"), what="the ticket resolved")

        pushed = [first, again, ignored, command, other, click, later, outsider, resolve]
        acked = [a["envelope_id"] for a in mock.acks]
        assert sorted(acked) == sorted(pushed)  # each envelope acknowledged, and only once
    finally:
        await run.close()
    assert mock.sockets_open == 0  # the runner closed its link on stop


async def _status(run: Running, number: int, status: str) -> bool:
    found = await run.home.db.run(tickets.get, number)
    return found is not None and found.status == status


async def test_refused_app_token_stops_start_up_with_a_clear_message(tmp_path, mock):
    settings = socket_settings(tmp_path, mock, app_token="xapp-1-A0001-1-wrong")
    home = await start(settings)
    try:
        with pytest.raises(ConfigError, match="SLACK_APP_TOKEN was refused by Slack \\(invalid_auth\\)"):
            await asyncio.wait_for(serve_slack(settings, home, asyncio.Event(), pace=0), 15)
    finally:
        await home.close()
    assert mock.received_count(CONNECT) == 1 and mock.received_count(SOCKET) == 0


async def test_mock_keeps_token_kinds_apart_and_tickets_single_use(mock):
    import aiohttp

    bot = AsyncWebClient(token=BOT_TOKEN, base_url=mock.base_url)
    with pytest.raises(SlackApiError) as refused:
        await bot.apps_connections_open(app_token=BOT_TOKEN)
    assert refused.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as wrong_kind:
        await AsyncWebClient(token=APP_TOKEN, base_url=mock.base_url).auth_test()
    assert wrong_kind.value.response["error"] == "not_allowed_token_type"
    url = (await bot.apps_connections_open(app_token=APP_TOKEN))["url"]
    assert url.startswith("ws://127.0.0.1:") and "/socket-mode/" in url
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            hello = await ws.receive_json()
            assert hello["type"] == "hello" and hello["connection_info"]["app_id"]
            sent = await mock.push_event({"type": "app_mention", "user": STAFF, "text": "hi"}, event_id="Ev1")
            envelope = await ws.receive_json()
            assert envelope["envelope_id"] == sent and envelope["type"] == "events_api"
            assert envelope["payload"]["event_id"] == "Ev1" and envelope["payload"]["type"] == "event_callback"
            await ws.send_json({"envelope_id": sent})
            assert await mock.wait_for_ack(sent) == {"envelope_id": sent}
        with pytest.raises(aiohttp.WSServerHandshakeError):  # a URL is good for one connection
            await session.ws_connect(url)
    assert [c.status for c in mock.calls(SOCKET)] == [101, 401]
