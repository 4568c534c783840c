"""Self-tests of the mock Slack Web API: the real slack-bolt AsyncApp and slack_sdk client run against it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from fakes.slack_api import (
    BOT_TOKEN,
    BOT_USER_ID,
    UPLOAD,
    MockSlackAPI,
    block_action_body,
    event_callback_body,
    signed_headers,
    slash_command_body,
)

SECRET = "self-test-secret"


@pytest.fixture
async def mock() -> AsyncIterator[MockSlackAPI]:
    async with MockSlackAPI() as api:
        yield api


def make_client(mock: MockSlackAPI, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=mock.base_url, **kwargs)


@pytest.fixture
def app(mock: MockSlackAPI) -> AsyncApp:
    return AsyncApp(client=make_client(mock), signing_secret=SECRET)


async def dispatch(app: AsyncApp, body: str, headers: dict[str, str]) -> BoltResponse:
    return await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))


def thread_message(text: str = "when is the field trip?") -> dict[str, Any]:
    return {"type": "message", "channel": "C100", "channel_type": "channel", "user": "U200", "text": text,
            "ts": "1700000100.000200", "thread_ts": "1700000000.000100", "event_ts": "1700000100.000200"}


# ---------------------------------------------------------------------- through bolt


async def test_thread_message_event_replies_in_thread(mock: MockSlackAPI, app: AsyncApp) -> None:
    @app.event("message")
    async def on_message(event: dict, client: AsyncWebClient) -> None:
        await client.chat_postMessage(channel=event["channel"], thread_ts=event["thread_ts"], text="Friday")

    response = await dispatch(app, *event_callback_body(thread_message(), signing_secret=SECRET))
    assert response.status == 200

    [call] = await mock.wait_for("chat.postMessage")
    assert call.status == 200
    # bolt's per-request client adds team_id to every call
    assert call.params == {"channel": "C100", "thread_ts": "1700000000.000100", "text": "Friday", "team_id": "T0001"}
    assert mock.received_count("auth.test") == 1  # bolt authorizes the first request
    await asyncio.sleep(0.05)
    assert mock.received_count("chat.postMessage") == 1


async def test_forged_or_stale_signature_is_rejected(mock: MockSlackAPI, app: AsyncApp) -> None:
    @app.event("message")
    async def on_message(event: dict, client: AsyncWebClient) -> None:
        await client.chat_postMessage(channel=event["channel"], text="should not happen")

    body, _ = event_callback_body(thread_message(), signing_secret=SECRET)
    forged = await dispatch(app, body, signed_headers("not-the-secret", body))
    stale = await dispatch(app, body, signed_headers(SECRET, body, timestamp=int(time.time()) - 6 * 60))
    assert (forged.status, stale.status) == (401, 401)
    await asyncio.sleep(0.05)
    assert mock.received_count("chat.postMessage") == 0


async def test_button_click_acks_and_updates_message(mock: MockSlackAPI, app: AsyncApp) -> None:
    acked: list[str] = []

    @app.action("rsvp_yes")
    async def on_rsvp(ack, body: dict, action: dict, client: AsyncWebClient) -> None:
        await ack()
        acked.append(action["value"])
        await client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"],
                                 text=f"RSVP: {action['value']}")

    body, headers = block_action_body("rsvp_yes", "yes", "U200", "C100", "1700000000.000100", signing_secret=SECRET)
    response = await dispatch(app, body, headers)
    assert response.status == 200

    [call] = await mock.wait_for("chat.update")
    assert acked == ["yes"]
    assert call.params == {"channel": "C100", "ts": "1700000000.000100", "text": "RSVP: yes", "team_id": "T0001"}
    assert mock.message("C100", "1700000000.000100")["text"] == "RSVP: yes"


async def test_slash_command_ack_carries_listener_response(mock: MockSlackAPI, app: AsyncApp) -> None:
    @app.command("/homeroom")
    async def on_command(ack, command: dict) -> None:
        await ack(f"Looking up {command['text']} for <@{command['user_id']}>")

    response = await dispatch(app, *slash_command_body("/homeroom", "lunch menu", "U200", "C100",
                                                         signing_secret=SECRET))
    assert response.status == 200
    assert response.body == "Looking up lunch menu for <@U200>"  # bolt acks a bare text as text/plain


async def test_respond_posts_to_mock_response_url(mock: MockSlackAPI, app: AsyncApp) -> None:
    @app.command("/homeroom")
    async def on_command(ack, respond) -> None:
        await ack()
        await respond("done later")

    body, headers = slash_command_body("/homeroom", "x", "U200", "C100", response_url=mock.response_url,
                                       signing_secret=SECRET)
    assert (await dispatch(app, body, headers)).status == 200
    [call] = await mock.wait_for("response_url")
    assert call.params["text"] == "done later"


# ---------------------------------------------------------------------- the client on its own


async def test_rate_limit_retried_only_with_handler(mock: MockSlackAPI) -> None:
    retrying = make_client(mock, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    mock.fail_next("chat.postMessage", status=429, retry_after=1)
    result = await retrying.chat_postMessage(channel="C100", text="hello")
    first, second = mock.calls("chat.postMessage")
    assert result["ok"] and [first.status, second.status] == [429, 200]
    assert second.at - first.at >= 1.0  # Retry-After honoured, as the mock saw the two arrive

    mock.fail_next("chat.postMessage", status=429, retry_after=1)
    with pytest.raises(SlackApiError) as raised:
        await make_client(mock).chat_postMessage(channel="C100", text="hello")
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] == "1"


async def test_server_error_and_outage(mock: MockSlackAPI) -> None:
    client = make_client(mock)
    mock.fail_next("reactions.add", status=500, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            await client.reactions_add(channel="C100", timestamp="1700000000.000100", name="wave")
        assert raised.value.response.status_code == 500
    assert (await client.reactions_add(channel="C100", timestamp="1700000000.000100", name="wave"))["ok"]

    mock.outage(True)
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    assert raised.value.response.status_code == 503
    mock.outage(False)
    assert (await client.auth_test())["user_id"] == BOT_USER_ID


async def test_auth_unknown_method_and_query_params(mock: MockSlackAPI) -> None:
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(token="xoxb-wrong", base_url=mock.base_url).auth_test()
    assert raised.value.response["error"] == "invalid_auth"

    client = make_client(mock)
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("chat.scheduleMessage", json={"channel": "C100"})
    assert raised.value.response["error"] == "unknown_method"

    # reactions.add sends its parameters in the query string of a POST; they are merged.
    await client.reactions_add(channel="C100", timestamp="1.2", name="tada")
    assert mock.calls("reactions.add")[-1].params == {"channel": "C100", "timestamp": "1.2", "name": "tada"}


async def test_posted_ts_unique_and_canned_reads(mock: MockSlackAPI) -> None:
    client = make_client(mock)
    first = await client.chat_postMessage(channel="C100", text="a")
    second = await client.chat_postMessage(channel="C100", text="b")
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"]) and second["message"]["text"] == "b"

    mock.set_members("C100", ["U1", "U2", "U3"])
    page = await client.conversations_members(channel="C100", limit=2)
    rest = await client.conversations_members(channel="C100", limit=2,
                                              cursor=page["response_metadata"]["next_cursor"])
    assert page["members"] + rest["members"] == ["U1", "U2", "U3"]
    assert rest["response_metadata"]["next_cursor"] == ""

    mock.set_user("U1", profile={"display_name": "Ms. Ada"}, locale="es-ES")
    user = (await client.users_info(user="U1", include_locale=True))["user"]
    assert user["profile"]["display_name"] == "Ms. Ada" and user["locale"] == "es-ES"
    assert (await client.views_publish(user_id="U1", view={"type": "home", "blocks": []}))["view"]["type"] == "home"
    assert mock.home_views["U1"]["type"] == "home"


async def test_files_upload_v2_csv(mock: MockSlackAPI) -> None:
    content = "student,grade\nAda,5\nGrace,4\n"
    result = await make_client(mock).files_upload_v2(channel="C100", filename="roster.csv", content=content,
                                                     title="Roster")
    assert result["file"]["name"] == "roster.csv"
    assert mock.calls("files.getUploadURLExternal")[0].params["filename"] == "roster.csv"
    [upload] = mock.calls(UPLOAD)
    assert upload.params["filename"] == "roster.csv"
    assert mock.uploads[result["file"]["id"]].content == content.encode()
    assert mock.calls("files.completeUploadExternal")[0].params["channel_id"] == "C100"


async def test_wait_for_timeout_lists_what_was_seen(mock: MockSlackAPI) -> None:
    await make_client(mock).auth_test()
    with pytest.raises(AssertionError, match=r"chat.update.*seen: auth.test\(200\)"):
        await mock.wait_for("chat.update", timeout=0.1)
