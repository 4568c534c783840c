"""A local stand-in for the Slack Web API, plus signed-request builders for bolt's HTTP path.

Why: tests run the real slack-bolt ``AsyncApp`` and slack_sdk ``AsyncWebClient`` (retry handlers,
JSON/form/query encoding, files_upload_v2's three steps) against a real HTTP server, so what is
tested is what ships. Point the client at it with
``AsyncWebClient(token=BOT_TOKEN, base_url=mock.base_url)``.

The server runs in the test's event loop (aiohttp.web on 127.0.0.1, a free port). Every request is
recorded as a ``Call``; faults (429 with Retry-After, 5xx, a whole outage) are injected per method.

Socket Mode: ``apps.connections.open`` (app-level token only) hands out a one-use
``ws://127.0.0.1:<port>/socket-mode/link/?ticket=…`` URL; the websocket says ``hello``, the test
pushes envelopes (``push_event``, ``push_command``, ``push_action``), the app's acks are recorded
(``SOCKET_ACK`` calls, ``wait_for_ack``), and ``drop_socket``/``request_refresh`` make it reconnect.
"""

from __future__ import annotations

import asyncio
import itertools
import inspect
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping
from urllib.parse import parse_qs, parse_qsl, urlencode

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

__all__ = [
    "APP_ID",
    "APP_TOKEN",
    "SOCKET",
    "SOCKET_ACK",
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "SIGNING_SECRET",
    "TEAM_ID",
    "UPLOAD",
    "RESPONSE_URL",
    "Call",
    "MockSlackAPI",
    "UploadedFile",
    "block_action_body",
    "event_callback_body",
    "signed_headers",
    "slash_command_body",
]

BOT_TOKEN = "xoxb-test"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0001"
SIGNING_SECRET = "test-signing-secret"
# Pseudo-method names under which non-API requests are recorded (and can be faulted).
UPLOAD = "upload"  # the POST of file bytes to the URL from files.getUploadURLExternal
RESPONSE_URL = "response_url"  # a POST to mock.response_url (bolt's `respond`)
APP_TOKEN = "xapp-1-A0001-1-test"  # the app-level token for Socket Mode
APP_ID = "A0001"
SOCKET = "socket"  # a websocket connection attempt to a Socket Mode URL (101 accepted, 401 refused)
SOCKET_ACK = "socket_ack"  # a message the app sent over the websocket (an ack: envelope_id, payload)

JSONDict = dict[str, Any]
Responder = Callable[[JSONDict], JSONDict | Awaitable[JSONDict]]

_HTTP_ERRORS = {429: "ratelimited", 500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}


@dataclass(frozen=True)
class Call:
    """One request the mock received. ``params`` merges query string and body (token removed);
    form-encoded values stay strings (e.g. ``blocks`` is a JSON string), JSON bodies keep their types."""

    method: str
    params: JSONDict
    status: int
    at: float = field(default_factory=time.monotonic)  # when it arrived (gaps between calls)


@dataclass
class UploadedFile:
    """A file announced by files.getUploadURLExternal; ``content`` is set once its bytes arrive."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    error: str
    remaining: int


class _SlackError(Exception):
    """Raised by a method handler to answer ``{"ok": false, "error": ...}`` with HTTP 200, like Slack."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class MockSlackAPI:
    """An in-process Slack Web API. Use ``async with MockSlackAPI() as mock:`` (or start()/stop()).

    ``token=None`` accepts any bearer token; otherwise only ``token`` is accepted (``invalid_auth``).
    """

    def __init__(
        self,
        *,
        token: str | None = BOT_TOKEN,
        team_id: str = TEAM_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        app_token: str | None = APP_TOKEN,
    ) -> None:
        self.token = token
        self.app_token = app_token  # None: any xapp- token opens Socket Mode connections
        self._sockets: list[web.WebSocketResponse] = []  # open Socket Mode connections, oldest first
        self._tickets: set[str] = set()  # unused websocket tickets from apps.connections.open
        self._envelopes = itertools.count(1)
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.requests: list[Call] = []
        # State the canned answers read and write; tests may inspect it.
        self.messages: dict[tuple[str, str], JSONDict] = {}  # (channel, ts) -> message
        self.reactions: set[tuple[str, str, str]] = set()  # (channel, ts, name)
        self.home_views: dict[str, JSONDict] = {}  # user_id -> last published view
        self.uploads: dict[str, UploadedFile] = {}  # file_id -> file
        self._members: dict[str, list[str]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._users: dict[str, JSONDict] = {}
        self._channels: dict[str, JSONDict] = {}
        self._overrides: dict[str, JSONDict | Responder] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._outage = False
        self._ts = itertools.count(100, 100)  # microseconds after 1700000000
        self._ids = itertools.count(1)
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._root = ""
        self._handlers: dict[str, Callable[[JSONDict], JSONDict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.members": self._conversations_members,
            "conversations.info": self._conversations_info,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "views.publish": self._views_publish,
            "reactions.add": self._reactions_add,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "apps.connections.open": self._apps_connections_open,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> MockSlackAPI:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        app.router.add_post("/response_url", self._handle_response_url)
        app.router.add_get("/socket-mode/link/", self._handle_socket)
        app.on_shutdown.append(self._close_sockets)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._root = f"http://{host}:{port}/"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MockSlackAPI:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What AsyncWebClient(base_url=...) expects: ends in "/api/"."""
        if not self._root:
            raise RuntimeError("MockSlackAPI is not started")
        return self._root + "api/"

    @property
    def response_url(self) -> str:
        """A response_url served by the mock (pass it to the body builders); posts recorded as RESPONSE_URL."""
        return self.base_url.removesuffix("api/") + "response_url"

    # ------------------------------------------------------------------ configuration

    def set_members(self, channel: str, user_ids: Iterable[str]) -> None:
        """Members of a channel for conversations.members (unset channels have none)."""
        self._members[channel] = list(user_ids)

    def set_usergroup(self, usergroup: str, user_ids: Iterable[str]) -> None:
        """Users of a user group for usergroups.users.list (unset groups have none)."""
        self._usergroups[usergroup] = list(user_ids)

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Override users.info fields for one user (``profile`` is merged, not replaced)."""
        self._users.setdefault(user_id, {}).update(fields)

    def set_channel(self, channel: str, **fields: Any) -> None:
        """Override conversations.info fields for one channel."""
        self._channels.setdefault(channel, {}).update(fields)

    def set_response(self, method: str, response: JSONDict | Responder | None) -> None:
        """Answer ``method`` with a fixed JSON body or ``response(params)`` (HTTP 200) until reset with
        None. Also the way to add a method the mock does not know."""
        if response is None:
            self._overrides.pop(method, None)
        else:
            self._overrides[method] = response

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error: 429 carries ``Retry-After``
        and ``ratelimited``; other statuses a matching error (``status=200, error="channel_not_found"``
        gives a plain Slack error). Queued faults are used in order."""
        fault = _Fault(
            status=status,
            retry_after=retry_after if status == 429 else None,
            error=error or _HTTP_ERRORS.get(status, f"http_{status}"),
            remaining=times,
        )
        self._faults.setdefault(method, deque()).append(fault)

    def outage(self, on: bool = True) -> None:
        """While on, every request (API, upload, response_url) gets HTTP 503."""
        self._outage = on

    def reset(self) -> None:
        """Forget recorded requests, queued faults and the outage (configuration stays)."""
        self.requests.clear()
        self._faults.clear()
        self._outage = False

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str) -> list[Call]:
        """Every recorded call of ``method``, faulted ones included, oldest first."""
        return [c for c in self.requests if c.method == method]

    def received_count(self, method: str) -> int:
        return len(self.calls(method))

    def message(self, channel: str, ts: str) -> JSONDict | None:
        """The current state of a message posted (and maybe updated) through the mock."""
        return self.messages.get((channel, ts))

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until ``method`` was received ``count`` times (bolt runs listeners in the background
        after ack); returns those calls. On timeout, AssertionError lists what was seen."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = self.calls(method)
            if len(found) >= count:
                return found
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = ", ".join(f"{c.method}({c.status})" for c in self.requests) or "nothing"
                raise AssertionError(
                    f"expected {count} x {method} within {timeout}s, got {len(found)}; seen: {seen}"
                )
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    # ------------------------------------------------------------------ HTTP plumbing

    def _record(self, method: str, params: JSONDict, status: int) -> None:
        self.requests.append(Call(method, params, status))
        self._arrived.set()

    def _reply(self, method: str, params: JSONDict, body: JSONDict, status: int = 200,
               headers: Mapping[str, str] | None = None) -> web.Response:
        self._record(method, params, status)
        return web.json_response(body, status=status, headers=headers)

    def _fault_response(self, method: str, params: JSONDict) -> web.Response | None:
        """The outage or a queued fault for ``method``, if any (recorded)."""
        if self._outage:
            return self._reply(method, params, {"ok": False, "error": "service_unavailable"}, 503)
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        return self._reply(method, params, {"ok": False, "error": fault.error}, fault.status, headers)

    @staticmethod
    async def _read_params(request: web.Request) -> JSONDict:
        """Query string, then body (JSON, form or multipart) on top: slack_sdk splits POST params."""
        params: JSONDict = dict(request.query)
        if not request.can_read_body:
            return params
        if request.content_type == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise _SlackError("invalid_json") from exc
                if not isinstance(body, dict):
                    raise _SlackError("invalid_json")
                params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in (await request.post()).items():
                params[key] = value.filename if isinstance(value, web.FileField) else value
        return params

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await self._read_params(request)
        except _SlackError as exc:
            return self._reply(method, {}, {"ok": False, "error": exc.error})
        body_token = params.pop("token", None)
        if self._outage:
            return self._fault_response(method, params)  # type: ignore[return-value]
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else body_token
        if not token:
            return self._reply(method, params, {"ok": False, "error": "not_authed"})
        refused = self._token_error(method, token, from_header=auth.startswith("Bearer "))
        if refused:
            return self._reply(method, params, {"ok": False, "error": refused})
        faulted = self._fault_response(method, params)
        if faulted is not None:
            return faulted
        headers = {"x-oauth-scopes": "chat:write,commands,users:read,channels:read,files:write"}
        try:
            override = self._overrides.get(method)
            if override is not None:
                body = override(params) if callable(override) else dict(override)
                if inspect.isawaitable(body):  # an async responder: e.g. one that hangs until released
                    body = await body
            elif method in self._handlers:
                body = {"ok": True, **self._handlers[method](params)}
            else:
                raise _SlackError("unknown_method")
        except _SlackError as exc:
            body = {"ok": False, "error": exc.error}
        return self._reply(method, params, body, 200, headers)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """The per-file upload URL: raw bytes in, ``text/plain`` "OK - <size>" out, as files.slack.com."""
        file_id = request.match_info["file_id"]
        data = await request.read()
        upload = self.uploads.get(file_id)
        params: JSONDict = {"file_id": file_id, "filename": upload.filename if upload else None,
                            "length": len(data)}
        faulted = self._fault_response(UPLOAD, params)
        if faulted is not None:
            return faulted
        if upload is None:
            self._record(UPLOAD, params, 404)
            return web.Response(status=404, text="Not Found")
        upload.content = data
        self._record(UPLOAD, params, 200)
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        """bolt's ``respond()`` posts JSON here; Slack answers plain "ok"."""
        try:
            params = await self._read_params(request)
        except _SlackError:
            params = {}
        faulted = self._fault_response(RESPONSE_URL, params)
        if faulted is not None:
            return faulted
        self._record(RESPONSE_URL, params, 200)
        return web.Response(text="ok", content_type="text/plain")

    # ------------------------------------------------------------------ canned methods

    def _next_ts(self) -> str:
        micros = next(self._ts)
        return f"{1700000000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):09d}"

    @staticmethod
    def _require(params: JSONDict, *names: str, error: str = "invalid_arguments") -> None:
        if any(params.get(n) in (None, "") for n in names):
            raise _SlackError(error)

    @staticmethod
    def _as_json(value: Any) -> Any:
        """Form-encoded structured values arrive as JSON strings."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def _auth_test(self, params: JSONDict) -> JSONDict:
        return {
            "url": "https://homeroom-test.slack.com/",
            "team": "Homeroom Test",
            "user": "homeroom",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: JSONDict) -> JSONDict:
        self._require(params, "channel", error="channel_not_found")
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            raise _SlackError("no_text")
        channel, ts = params["channel"], self._next_ts()
        message: JSONDict = {"type": "message", "text": params.get("text") or "", "user": self.bot_user_id,
                             "bot_id": self.bot_id, "team": self.team_id, "ts": ts}
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        if params.get("blocks"):
            message["blocks"] = self._as_json(params["blocks"])
        self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _chat_update(self, params: JSONDict) -> JSONDict:
        self._require(params, "channel", "ts", error="message_not_found")
        channel, ts = params["channel"], params["ts"]
        message = self.messages.setdefault((channel, ts), {"type": "message", "user": self.bot_user_id,
                                                            "bot_id": self.bot_id, "ts": ts})
        if "text" in params:
            message["text"] = params["text"]
        if params.get("blocks"):
            message["blocks"] = self._as_json(params["blocks"])
        return {"channel": channel, "ts": ts, "text": message.get("text", ""), "message": message}

    def _chat_post_ephemeral(self, params: JSONDict) -> JSONDict:
        self._require(params, "channel", "user", error="channel_not_found")
        members = self._members.get(params["channel"])
        if members is not None and params["user"] not in members:
            raise _SlackError("user_not_in_channel")
        return {"message_ts": self._next_ts()}

    def _chat_get_permalink(self, params: JSONDict) -> JSONDict:
        self._require(params, "channel", "message_ts", error="message_not_found")
        channel, ts = params["channel"], str(params["message_ts"])
        return {"channel": channel,
                "permalink": f"https://homeroom-test.slack.com/archives/{channel}/p{ts.replace('.', '')}"}

    def _conversations_members(self, params: JSONDict) -> JSONDict:
        """Paginated like Slack: ``limit`` and an opaque ``cursor``; next_cursor "" at the end."""
        self._require(params, "channel", error="channel_not_found")
        members = self._members.get(params["channel"], [])
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        end = start + limit
        return {"members": members[start:end],
                "response_metadata": {"next_cursor": str(end) if end < len(members) else ""}}

    def _conversations_info(self, params: JSONDict) -> JSONDict:
        self._require(params, "channel", error="channel_not_found")
        cid = params["channel"]
        members = self._members.get(cid, [])
        channel: JSONDict = {
            "id": cid, "name": cid.lower(), "is_channel": cid.startswith("C"), "is_group": cid.startswith("G"),
            "is_im": cid.startswith("D"), "is_private": cid.startswith("G"), "is_archived": False,
            "is_member": cid not in self._members or self.bot_user_id in members,
        }
        if str(params.get("include_num_members")).lower() in ("1", "true"):
            channel["num_members"] = len(members)
        channel.update(self._channels.get(cid, {}))
        return {"channel": channel}

    def _users_info(self, params: JSONDict) -> JSONDict:
        self._require(params, "user", error="user_not_found")
        uid = params["user"]
        extra = dict(self._users.get(uid, {}))
        user: JSONDict = {
            "id": uid, "team_id": self.team_id, "name": uid.lower(), "real_name": f"User {uid}",
            "deleted": False, "is_bot": uid == self.bot_user_id, "tz": "America/New_York",
            "profile": {"real_name": f"User {uid}", "display_name": uid.lower(), **extra.pop("profile", {})},
        }
        if str(params.get("include_locale")).lower() in ("1", "true"):
            user["locale"] = "en-US"
        user.update(extra)
        return {"user": user}

    def _usergroups_users_list(self, params: JSONDict) -> JSONDict:
        self._require(params, "usergroup", error="no_such_subteam")
        return {"users": list(self._usergroups.get(params["usergroup"], []))}

    def _views_publish(self, params: JSONDict) -> JSONDict:
        self._require(params, "user_id", "view", error="invalid_arguments")
        view = self._as_json(params["view"])
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        published = {"id": self._next_id("V"), "team_id": self.team_id, "type": view.get("type", "home"),
                     "hash": f"{time.time():.6f}", **view}
        self.home_views[params["user_id"]] = published
        return {"view": published}

    def _reactions_add(self, params: JSONDict) -> JSONDict:
        self._require(params, "channel", "timestamp", "name", error="invalid_arguments")
        key = (params["channel"], str(params["timestamp"]), params["name"])
        if key in self.reactions:
            raise _SlackError("already_reacted")
        self.reactions.add(key)
        return {}

    def _files_get_upload_url_external(self, params: JSONDict) -> JSONDict:
        self._require(params, "filename", "length", error="invalid_arguments")
        file_id = self._next_id("F")
        self.uploads[file_id] = UploadedFile(file_id, str(params["filename"]), int(params["length"]))
        return {"upload_url": f"{self.base_url.removesuffix('api/')}upload/v1/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, params: JSONDict) -> JSONDict:
        self._require(params, "files", error="invalid_arguments")
        entries = self._as_json(params["files"])
        if not isinstance(entries, list) or not entries:
            raise _SlackError("invalid_arguments")
        channels = [c for c in str(params.get("channels") or "").split(",") if c]
        if params.get("channel_id"):
            channels.append(params["channel_id"])
        files = []
        for entry in entries:
            upload = self.uploads.get(entry.get("id"))
            if upload is None or upload.content is None:
                raise _SlackError("file_not_found")
            files.append({"id": upload.file_id, "name": upload.filename,
                          "title": entry.get("title") or upload.filename, "size": len(upload.content),
                          "channels": channels, "user": self.bot_user_id})
        return {"files": files}

    # ------------------------------------------------------------------ Socket Mode

    def _token_error(self, method: str, token: str, *, from_header: bool) -> str | None:
        """Slack keeps token kinds apart: apps.connections.open takes only the app-level token
        (``xapp-``, in the Authorization header), every other method refuses it."""
        app_level = token.startswith("xapp-")
        if method == "apps.connections.open":
            if not app_level:
                return "not_allowed_token_type"
            if not from_header:
                return "not_authed"
            return "invalid_auth" if self.app_token is not None and token != self.app_token else None
        if app_level:
            return "not_allowed_token_type"
        return "invalid_auth" if self.token is not None and token != self.token else None

    def _apps_connections_open(self, params: JSONDict) -> JSONDict:
        ticket = self._next_id("ticket-")
        self._tickets.add(ticket)
        ws_root = "ws://" + self._root.removeprefix("http://")
        return {"url": f"{ws_root}socket-mode/link/?ticket={ticket}&app_id={APP_ID}"}

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        """One Socket Mode connection: ``hello``, then every message from the app is recorded as an ack."""
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:  # unknown, or already used
            self._record(SOCKET, {"ticket": ticket}, 401)
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()  # answers the client's pings
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": len(self._sockets),
                            "debug_info": {"host": "applink-mock", "build_number": 1,
                                           "approximate_connection_time": 18060},
                            "connection_info": {"app_id": APP_ID}})
        self._record(SOCKET, {"ticket": ticket}, 101)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    sent = json.loads(msg.data)
                except ValueError:
                    sent = {"raw": msg.data}
                self._record(SOCKET_ACK, sent if isinstance(sent, dict) else {"raw": sent}, 200)
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
            self._arrived.set()
        return ws

    async def _close_sockets(self, _app: web.Application | None = None) -> None:
        sockets, self._sockets = self._sockets, []
        for ws in sockets:
            await ws.close(code=1001, message=b"going away")

    @property
    def sockets_open(self) -> int:
        return len(self._sockets)

    @property
    def acks(self) -> list[JSONDict]:
        """Everything the app sent over its websockets, oldest first."""
        return [c.params for c in self.calls(SOCKET_ACK)]

    async def _until(self, check: Callable[[], Any], what: str, timeout: float) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = check()
            if found:
                return found
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = ", ".join(f"{c.method}({c.status})" for c in self.requests) or "nothing"
                raise AssertionError(f"expected {what} within {timeout}s; seen: {seen}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_for_socket(self, connections: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``connections`` websockets were accepted in all and one is open (hello sent)."""
        await self._until(lambda: self._sockets and len([c for c in self.calls(SOCKET) if c.status == 101])
                          >= connections, f"{connections} Socket Mode connection(s)", timeout)

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> JSONDict:
        """The app's ack of ``envelope_id`` (``{"envelope_id": …}`` plus ``payload`` if it answered)."""
        return await self._until(lambda: next((a for a in self.acks if a.get("envelope_id") == envelope_id), None),
                                 f"an ack of envelope {envelope_id}", timeout)

    async def push(self, envelope_type: str, payload: JSONDict, *, envelope_id: str | None = None,
                   accepts_response_payload: bool | None = None, retry_attempt: int = 0, retry_reason: str = "",
                   timeout: float = 5.0) -> str:
        """Send an envelope (``events_api``, ``slash_commands``, ``interactive``) over the newest open
        websocket, waiting for one if the app is (re)connecting; returns its ``envelope_id``."""
        await self._until(lambda: self._sockets, "an open Socket Mode connection", timeout)
        envelope_id = envelope_id or f"{next(self._envelopes):08x}-5c0c-4e7d-9a1b-000000000000"
        if accepts_response_payload is None:
            accepts_response_payload = envelope_type == "slash_commands"
        envelope: JSONDict = {"envelope_id": envelope_id, "payload": payload, "type": envelope_type,
                              "accepts_response_payload": accepts_response_payload}
        if envelope_type == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        await self._sockets[-1].send_json(envelope)
        return envelope_id

    async def push_event(self, event: JSONDict, event_id: str | None = None, *, retry_attempt: int = 0,
                         retry_reason: str = "") -> str:
        """An ``events_api`` envelope around an ``event_callback`` (same ``event_id``: a redelivery)."""
        body, _ = event_callback_body(event, event_id, self.team_id, bot_user_id=self.bot_user_id)
        return await self.push("events_api", json.loads(body), retry_attempt=retry_attempt,
                               retry_reason=retry_reason)

    async def push_command(self, command: str, text: str, user_id: str, channel_id: str) -> str:
        """A ``slash_commands`` envelope; ``respond()`` goes to the mock's response_url."""
        body, _ = slash_command_body(command, text, user_id, channel_id, team_id=self.team_id,
                                     response_url=self.response_url)
        return await self.push("slash_commands", dict(parse_qsl(body)))

    async def push_action(self, action_id: str, value: str, user_id: str, channel_id: str, message_ts: str) -> str:
        """An ``interactive`` envelope: a ``block_actions`` button click."""
        body, _ = block_action_body(action_id, value, user_id, channel_id, message_ts, team_id=self.team_id,
                                    response_url=self.response_url)
        return await self.push("interactive", json.loads(parse_qs(body)["payload"][0]))

    async def drop_socket(self, code: int = 1001) -> int:
        """Close every open connection from Slack's side (a close frame, as when a link is recycled);
        returns how many were closed. The app should call apps.connections.open again."""
        dropped = self.sockets_open
        await self._close_sockets()
        return dropped

    async def request_refresh(self, reason: str = "refresh_requested") -> None:
        """Slack's ``disconnect`` message on the newest connection: the app should open a new one."""
        await self._until(lambda: self._sockets, "an open Socket Mode connection", 5.0)
        await self._sockets[-1].send_json({"type": "disconnect", "reason": reason,
                                           "debug_info": {"host": "applink-mock"}})


# ---------------------------------------------------------------------- signed requests for bolt


def signed_headers(
    signing_secret: str, body: str, timestamp: int | None = None, *, content_type: str | None = None
) -> dict[str, str]:
    """Headers Slack would send with ``body`` (signature over ``v0:<ts>:<body>``); the content type
    is guessed from the body (JSON object or form) unless given."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    if content_type is None:
        json_body = body.lstrip().startswith("{")
        content_type = "application/json" if json_body else "application/x-www-form-urlencoded"
    return {"x-slack-signature": signature or "", "x-slack-request-timestamp": ts, "content-type": content_type}


_event_ids = itertools.count(1)


def event_callback_body(
    event: JSONDict,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    *,
    api_app_id: str = "A0001",
    bot_user_id: str = BOT_USER_ID,
    signing_secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> tuple[str, dict[str, str]]:
    """An Events API ``event_callback`` envelope (JSON) and its signed headers. ``event_id`` defaults
    to a fresh one; pass the same id twice to simulate a redelivery."""
    now = int(time.time())
    body = {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": now,
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": bot_user_id,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }
    text = json.dumps(body)
    return text, signed_headers(signing_secret, text, timestamp, content_type="application/json")


def block_action_body(
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    *,
    block_id: str = "actions",
    button_text: str = "Button",
    message_text: str = "",
    team_id: str = TEAM_ID,
    response_url: str = "https://hooks.slack.com/actions/T0001/1/x",
    trigger_id: str = "1.2.trigger",
    signing_secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> tuple[str, dict[str, str]]:
    """A ``block_actions`` click on a button in a bot message, form-encoded as ``payload=<json>``
    (how Slack sends interactivity), and its signed headers."""
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0001",
        "token": "verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                      "is_ephemeral": False},
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": "homeroom-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_id.lower()},
        "message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": message_ts,
                    "text": message_text, "blocks": []},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": block_id, "type": "button", "value": value,
                     "text": {"type": "plain_text", "text": button_text, "emoji": True},
                     "action_ts": f"{time.time():.6f}"}],
    }
    text = urlencode({"payload": json.dumps(payload)})
    return text, signed_headers(signing_secret, text, timestamp, content_type="application/x-www-form-urlencoded")


def slash_command_body(
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    *,
    team_id: str = TEAM_ID,
    response_url: str = "https://hooks.slack.com/commands/T0001/1/x",
    trigger_id: str = "1.2.trigger",
    signing_secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> tuple[str, dict[str, str]]:
    """A slash command invocation, form-encoded as Slack sends it, and its signed headers."""
    fields = {
        "token": "verification-token",
        "team_id": team_id,
        "team_domain": "homeroom-test",
        "channel_id": channel_id,
        "channel_name": channel_id.lower(),
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    body = urlencode(fields)
    return body, signed_headers(signing_secret, body, timestamp, content_type="application/x-www-form-urlencoded")
