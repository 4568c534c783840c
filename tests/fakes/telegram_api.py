"""A local stand-in for the Telegram Bot API, so tests drive the real python-telegram-bot.

Why: polling, handlers, retries and uploads then go through PTB's real HTTP stack (httpx to an
aiohttp server on 127.0.0.1) instead of mocks, and every payload is shaped as the Bot API
documents it (https://core.telegram.org/bots/api), so a shape mistake shows up in tests.

Usage::

    async with FakeBotAPI(token=TOKEN) as fake:
        app = (ApplicationBuilder().token(TOKEN).base_url(fake.base_url)
               .base_file_url(fake.base_file_url).build())
        fake.push_update(fake.message_update("hello"))
        ...  # start the app and poll
        (call,) = await fake.wait_for("sendMessage")

Behaviour kept from the real service, because our code has to cope with it:
- Updates stay queued until confirmed: `getUpdates` with `offset` drops those with a lower
  `update_id`; delivered but unconfirmed updates are delivered again. Updates are delivered in
  push order, so pushing a higher id before a lower one makes the higher one come back (as a
  duplicate) once the client confirms with the lower id + 1.
- A sent Message echoes `reply_markup` only for inline keyboards (Telegram never echoes reply
  keyboards, and PTB parses `Message.reply_markup` as an InlineKeyboardMarkup).
- `editMessageText` without `reply_markup` removes the inline keyboard; an edit that changes
  nothing is a 400 "message is not modified"; callback_data over 64 bytes is a 400.
- Text is not parsed for `parse_mode`: the result carries the text as sent.
Only 127.0.0.1 is ever bound or contacted.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Awaitable, Callable

from aiohttp import BodyPartReader, web

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "5550001111:AAHomeroomFakeTokenForTests-0123456789"
DEFAULT_USER_ID = 100001
DEFAULT_FIRST_NAME = "Ana"
DEFAULT_GROUP_CHAT_ID = -987654321
DEFAULT_SUPERGROUP_CHAT_ID = -1001987654321
DEFAULT_GROUP_TITLE = "Homeroom Parents 3B"

# Parameters that are strings in the Bot API: never JSON-decode them ("42" stays "42").
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "action", "url", "callback_query_id",
        "inline_message_id", "language_code", "description", "short_description", "name",
        "title", "emoji", "secret_token", "business_connection_id", "message_effect_id",
        "query", "file_id", "question", "explanation", "address", "phone_number",
        "first_name", "last_name", "vcard", "custom_title", "invite_link", "payload",
        "currency", "start_parameter", "game_short_name", "ip_address", "document", "photo",
        "audio", "video", "animation", "voice", "video_note", "sticker", "thumbnail",
    }
)
_JSONISH = re.compile(r"\s*(?:[\[{\"]|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*$|true$|false$|null$)")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{1,64})?")
_BOT_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "of the new message are exactly the same as a current content and reply markup of the "
    "message"
)


@dataclass(frozen=True)
class UploadedFile:
    """One multipart file part as the server received it."""

    filename: str | None
    content: bytes
    content_type: str | None = None


Files = dict[str, UploadedFile]
"""Multipart file parts of one request, by part name."""


@dataclass
class Call:
    """One request the fake answered; `status` is the HTTP status it answered with."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int = 200
    response: JSONDict = field(default_factory=dict)
    http_method: str = "POST"
    at: float = field(default_factory=time.monotonic)  # when it arrived (gaps between calls)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class _Fault:
    status: int
    retry_after: float | None
    description: str | None

    def body(self) -> JSONDict:
        if self.status == 429:
            retry = self.retry_after if self.retry_after is not None else 1
            retry = int(retry) if float(retry).is_integer() else retry
            return _error_body(
                429, self.description or f"Too Many Requests: retry after {retry}",
                {"retry_after": retry},
            )
        return _error_body(self.status, self.description or _phrase(self.status))


class _ApiError(Exception):
    """Raised by a method handler to answer with a Bot API error."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


def _error_body(status: int, description: str, parameters: JSONDict | None = None) -> JSONDict:
    body: JSONDict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def _decode(name: str, value: str) -> Any:
    """Undo PTB's form encoding: non-string values arrive as JSON strings."""
    if name in _STRING_PARAMS or not _JSONISH.match(value):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def utf16_len(text: str) -> int:
    """Entity offsets/lengths count UTF-16 code units in the Bot API."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str | None) -> list[JSONDict]:
    """A `bot_command` entity for a leading /command, as Telegram adds it.

    Why: CommandHandler fires only on such an entity, not on the text alone.
    """
    if not text:
        return []
    match = _COMMAND.match(text)
    if not match:
        return []
    return [{"offset": 0, "length": utf16_len(match.group(0)), "type": "bot_command"}]


def _now() -> int:
    return int(time.time())


class FakeBotAPI:
    """An aiohttp server speaking the Bot API on 127.0.0.1, with scripted updates and faults."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_first_name: str = "Homeroom",
        bot_username: str = "HomeroomTestBot",
        max_poll_timeout: float = 1.0,
    ) -> None:
        self.token = token
        head = token.split(":", 1)[0]
        self.bot_user: JSONDict = {
            "id": int(head) if head.isdigit() else 5550001111,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.max_poll_timeout = max_poll_timeout
        self.requests: list[Call] = []
        self.webhook_url = ""
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.files: dict[str, UploadedFile] = {}
        self.confirmed_offset = 0
        self._pending: list[JSONDict] = []
        self._last_update_id = 0
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._chats: dict[str, JSONDict] = {}
        self._messages: dict[tuple[str, int], JSONDict] = {}
        self._bot_messages: set[tuple[str, int]] = set()
        self._message_ids: dict[str, int] = defaultdict(int)
        self._file_paths: dict[str, str] = {}
        self._counter = 0
        self._update_signal = asyncio.Event()
        self._call_signal = asyncio.Event()
        self._closing = False
        self._held: dict[str, asyncio.Event] = {}
        self.held_calls = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        handlers: dict[str, Callable[[JSONDict, Files], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "close": self._true,
            "logOut": self._true,
        }
        self._handlers = handlers
        self._canonical = {name.lower(): name for name in handlers}

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> FakeBotAPI:
        """Bind 127.0.0.1 on a free port and serve."""
        if self._runner is not None:
            return self
        self._closing = False
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Wake any long poll and shut the server down."""
        self._closing = True
        self._signal_updates()
        for gate in self._held.values():  # held calls end (refused) instead of blocking the shutdown
            gate.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started: await fake.start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """Value for `ApplicationBuilder().base_url(...)`; PTB appends the token."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for `ApplicationBuilder().base_file_url(...)`."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ----------------------------------------------------------------- recording

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls, optionally of one method and only (un)successful ones."""
        return [
            c
            for c in self.requests
            if (method is None or c.method == method) and (ok is None or c.ok == ok)
        ]

    def sent(self, chat_id: int | str | None = None) -> list[JSONDict]:
        """Params of successful sendMessage/sendDocument calls in order, uploads merged in.

        An uploaded file replaces its param (or `attach://` reference) as an UploadedFile.
        """
        out: list[JSONDict] = []
        for call in self.requests:
            if call.method not in ("sendMessage", "sendDocument") or not call.ok:
                continue
            if chat_id is not None and str(call.params.get("chat_id")) != str(chat_id):
                continue
            params = dict(call.params)
            for name, upload in call.files.items():
                refs = [k for k, v in params.items() if v == f"attach://{name}"]
                for key in refs or [name]:
                    params[key] = upload
            out.append(params)
        return out

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Return the calls of `method` once at least `count` were answered (failed ones too)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            signal = self._call_signal
            found = self.calls(method)
            if len(found) >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [f"{c.method}[{c.status}]" for c in self.requests]
                raise AssertionError(
                    f"expected at least {count} {method} call(s) within {timeout}s, "
                    f"got {len(found)}: {[c.params for c in found]}; all calls: {seen}"
                )
            try:
                await asyncio.wait_for(signal.wait(), remaining)
            except TimeoutError:
                pass

    # ----------------------------------------------------------------- scripting

    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue an update for getUpdates; assigns the next update_id if missing.

        The same update_id may be pushed twice (a duplicate) or lower than an earlier one.
        Returns the queued update (with its update_id).
        """
        update = copy.deepcopy(update)
        if update.get("update_id") is None:
            self._last_update_id += 1
            update["update_id"] = self._last_update_id
        else:
            self._last_update_id = max(self._last_update_id, int(update["update_id"]))
        self._remember(update)
        self._pending.append(update)
        self._signal_updates()
        return copy.deepcopy(update)

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by an offset."""
        return copy.deepcopy(self._pending)

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: float | None = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with this error instead of running it.

        429 carries `parameters.retry_after` (PTB raises RetryAfter); other statuses get
        `description` or the HTTP phrase (500 → "Internal Server Error").
        """
        name = self._canonical.get(method.lower(), method)
        for _ in range(times):
            self._faults[name].append(_Fault(status, retry_after, description))

    def hold(self, method: str) -> None:
        """From now on, calls of `method` get no answer until `drop(method)`, and are then
        refused (503) without running: a request that never reached Telegram. A crash test
        kills the bot while its sends hang here, outside the one window no bot can close (a
        crash between Telegram's "ok" and the bot writing it down)."""
        name = self._canonical.get(method.lower(), method)
        self._held.setdefault(name, asyncio.Event())

    def drop(self, method: str) -> None:
        """Refuse the held calls of `method` and answer new ones normally again."""
        name = self._canonical.get(method.lower(), method)
        gate = self._held.pop(name, None)
        if gate is not None:
            gate.set()

    def message_update(
        self,
        text: str,
        *,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        first_name: str = DEFAULT_FIRST_NAME,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        chat_type: str = "private",
        chat_title: str | None = None,
        message_id: int | None = None,
        date: int | None = None,
        entities: list[JSONDict] | None = None,
        update_id: int | None = None,
    ) -> JSONDict:
        """An Update with a text `message`; a leading /command gets its `bot_command` entity."""
        message = self._user_message(
            chat_id=chat_id, user_id=user_id, first_name=first_name, last_name=last_name,
            username=username, language_code=language_code, chat_type=chat_type,
            chat_title=chat_title, message_id=message_id, date=date,
        )
        message["text"] = text
        ents = entities if entities is not None else command_entities(text)
        if ents:
            message["entities"] = ents
        return self._update("message", message, update_id)

    def edited_message_update(
        self,
        text: str,
        *,
        message_id: int | None = None,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        first_name: str = DEFAULT_FIRST_NAME,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        chat_type: str = "private",
        chat_title: str | None = None,
        date: int | None = None,
        edit_date: int | None = None,
        update_id: int | None = None,
    ) -> JSONDict:
        """An Update with `edited_message`: original `date` plus a later `edit_date`."""
        edit_date = edit_date if edit_date is not None else _now()
        message = self._user_message(
            chat_id=chat_id, user_id=user_id, first_name=first_name, last_name=last_name,
            username=username, language_code=language_code, chat_type=chat_type,
            chat_title=chat_title, message_id=message_id,
            date=date if date is not None else edit_date - 60,
        )
        message["edit_date"] = edit_date
        message["text"] = text
        if ents := command_entities(text):
            message["entities"] = ents
        return self._update("edited_message", message, update_id)

    def photo_update(
        self,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        first_name: str = DEFAULT_FIRST_NAME,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        chat_type: str = "private",
        chat_title: str | None = None,
        width: int = 1280,
        height: int = 960,
        content: bytes | None = None,
        message_id: int | None = None,
        date: int | None = None,
        update_id: int | None = None,
    ) -> JSONDict:
        """An Update with a photo `message`: three PhotoSizes, smallest first, as Telegram sends.

        With `content`, the largest size can be fetched through getFile and the file URL.
        """
        message = self._user_message(
            chat_id=chat_id, user_id=user_id, first_name=first_name, last_name=last_name,
            username=username, language_code=language_code, chat_type=chat_type,
            chat_title=chat_title, message_id=message_id, date=date,
        )
        sizes: list[JSONDict] = []
        longest = max(width, height)
        for side in (90, 320, longest):
            scale = min(1.0, side / longest)
            file_id, unique_id = self._new_file_id("AgACAgIAAxkBAAI")
            size = max(1, side * side // 12)
            if content is not None and side == longest:
                size = len(content)
            sizes.append({
                "file_id": file_id,
                "file_unique_id": unique_id,
                "file_size": size,
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
            })
        if content is not None:
            upload = UploadedFile("photo.jpg", content, "image/jpeg")
            self._register_file(sizes[-1]["file_id"], upload, "photos")
        message["photo"] = sizes
        if caption is not None:
            message["caption"] = caption
            if ents := command_entities(caption):
                message["caption_entities"] = ents
        return self._update("message", message, update_id)

    def callback_update(
        self,
        data: str,
        *,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        message_id: int | None = None,
        first_name: str = DEFAULT_FIRST_NAME,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        chat_type: str = "private",
        chat_title: str | None = None,
        message_text: str = "Choose an option:",
        inline_keyboard: list[list[JSONDict]] | None = None,
        callback_query_id: str | None = None,
        chat_instance: str | None = None,
        accessible: bool = True,
        update_id: int | None = None,
    ) -> JSONDict:
        """An Update with a `callback_query` on a bot message carrying an inline keyboard.

        If `message_id` names a message the fake already knows (e.g. one the bot sent), that
        message is attached. `accessible=False` attaches an InaccessibleMessage (date 0), as
        Telegram does for a deleted or too old message.
        """
        user = _user(user_id, first_name, last_name, username, language_code)
        chat = self._make_chat(chat_id, chat_type, chat_title, user)
        key = (str(chat["id"]), message_id) if message_id is not None else None
        if not accessible:
            mid = message_id if message_id is not None else self._next_message_id(chat["id"])
            message: JSONDict = {"chat": chat, "message_id": mid, "date": 0}
        elif key is not None and key in self._messages:
            message = copy.deepcopy(self._messages[key])
        else:
            keyboard = inline_keyboard or [[{"text": data, "callback_data": data}]]
            mid = self._claim_message_id(chat["id"], message_id)
            message = {
                "message_id": mid,
                "from": dict(self.bot_user),
                "chat": chat,
                "date": _now() - 30,
                "text": message_text,
                "reply_markup": {"inline_keyboard": keyboard},
            }
            self._store(message, from_bot=True)
        self._counter += 1
        query: JSONDict = {
            "id": callback_query_id or str(4382519872034500000 + self._counter),
            "from": user,
            "message": message,
            "chat_instance": chat_instance or str(-5112359274469411238 + int(chat["id"])),
            "data": data,
        }
        return self._update("callback_query", query, update_id)

    # ----------------------------------------------------------------- HTTP

    async def _handle(self, request: web.Request) -> web.Response:
        raw_method = request.match_info["method"]
        method = self._canonical.get(raw_method.lower(), raw_method)
        try:
            params, files = await self._read_params(request)
        except ValueError:  # a malformed JSON body
            call = Call(method, {}, {}, http_method=request.method)
            return self._finish(call, 400, _error_body(400, "Bad Request: can't parse JSON"))
        call = Call(method, params, files, http_method=request.method)
        if request.match_info["token"] != self.token:
            return self._finish(call, 401, _error_body(401, "Unauthorized"))
        gate = self._held.get(method)
        if gate is not None:  # see hold(): never run, never delivered
            self.held_calls += 1
            self._call_signal.set()
            await gate.wait()
            return self._finish(call, 503, _error_body(503, "Service Unavailable: dropped while held"))
        fault_queue = self._faults.get(method)
        if fault_queue:
            fault = fault_queue.popleft()
            return self._finish(call, fault.status, fault.body())
        handler = self._handlers.get(method)
        if handler is None:
            return self._finish(call, 404, _error_body(404, "Not Found"))
        try:
            result = await handler(params, files)
        except _ApiError as exc:
            return self._finish(call, exc.status, _error_body(exc.status, exc.description))
        return self._finish(call, 200, {"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(_error_body(401, "Unauthorized"), status=401)
        file_id = self._file_paths.get(request.match_info["path"])
        if file_id is None:
            return web.json_response(_error_body(404, "Not Found"), status=404)
        upload = self.files[file_id]
        ctype = upload.content_type or "application/octet-stream"
        return web.Response(body=upload.content, content_type=ctype)

    def _finish(self, call: Call, status: int, body: JSONDict) -> web.Response:
        call.status = status
        call.response = body
        self.requests.append(call)
        self._call_signal.set()
        self._call_signal = asyncio.Event()
        return web.json_response(body, status=status)

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, Files]:
        """Query string plus a form-encoded, JSON or multipart body."""
        params: JSONDict = {k: _decode(k, v) for k, v in request.query.items()}
        files: Files = {}
        if not request.can_read_body:
            return params, files
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif ctype.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    content = bytes(await part.read(decode=False))
                    part_type = part.headers.get("Content-Type")
                    files[part.name] = UploadedFile(part.filename, content, part_type)
                else:
                    params[part.name] = _decode(part.name, await part.text())
        elif ctype == "application/x-www-form-urlencoded":
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = _decode(key, value)
        else:
            raw = (await request.read()).strip()
            if raw.startswith(b"{"):
                body = json.loads(raw)
                if isinstance(body, dict):
                    params.update(body)
        return params, files

    # ----------------------------------------------------------------- methods

    async def _true(self, params: JSONDict, files: Files) -> bool:
        return True

    async def _get_me(self, params: JSONDict, files: Files) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict, files: Files) -> list[JSONDict]:
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), self.max_poll_timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            signal = self._update_signal
            self._confirm(offset)
            remaining = deadline - loop.time()
            if self._pending or self._closing or remaining <= 0:
                break
            try:
                await asyncio.wait_for(signal.wait(), remaining)
            except TimeoutError:
                pass
        return copy.deepcopy(self._pending[:limit])

    async def _send_message(self, params: JSONDict, files: Files) -> JSONDict:
        chat_id = _require_chat(params)
        text = params.get("text")
        if text is None or str(text) == "":
            raise _ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        if utf16_len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        return self._new_bot_message(
            chat_id,
            params,
            text=text,
            entities=params.get("entities"),
            reply_markup=_check_markup(params.get("reply_markup")),
        )

    async def _send_document(self, params: JSONDict, files: Files) -> JSONDict:
        chat_id = _require_chat(params)
        ref = params.get("document")
        upload = files.get("document")
        if upload is None and isinstance(ref, str) and ref.startswith("attach://"):
            upload = files.get(ref.removeprefix("attach://"))
        if upload is not None:
            file_id, unique_id = self._new_file_id("BQACAgIAAxkDAAI")
            self._register_file(file_id, upload, "documents")
            document: JSONDict = {"file_name": upload.filename, "file_id": file_id,
                                  "file_unique_id": unique_id, "file_size": len(upload.content)}
            if upload.content_type:
                document["mime_type"] = upload.content_type
            if upload.filename is None:
                del document["file_name"]
        elif isinstance(ref, str) and ref:
            known = self.files.get(ref)
            document = {"file_id": ref, "file_unique_id": f"AgAD{zlib.crc32(ref.encode()):08x}"}
            if known is not None:
                document.update(file_name=known.filename, file_size=len(known.content))
        else:
            raise _ApiError(400, "Bad Request: there is no document in the request")
        return self._new_bot_message(
            chat_id,
            params,
            document=document,
            caption=params.get("caption"),
            caption_entities=params.get("caption_entities"),
            reply_markup=_check_markup(params.get("reply_markup")),
        )

    async def _edit_message_text(self, params: JSONDict, files: Files) -> JSONDict | bool:
        text = params.get("text")
        if text is None or str(text) == "":
            raise _ApiError(400, "Bad Request: message text is empty")
        markup = _check_markup(params.get("reply_markup"))
        target = self._edit_target(params)
        if target is None:
            return True
        entities = params.get("entities")
        if (target.get("text"), target.get("entities"), target.get("reply_markup")) == (
            str(text), entities, markup,
        ):
            raise _ApiError(400, _NOT_MODIFIED)
        target["text"] = str(text)
        _set_or_pop(target, "entities", entities)
        _set_or_pop(target, "reply_markup", markup)
        target["edit_date"] = _now()
        return copy.deepcopy(target)

    async def _edit_message_reply_markup(self, params: JSONDict, files: Files) -> JSONDict | bool:
        markup = _check_markup(params.get("reply_markup"))
        target = self._edit_target(params)
        if target is None:
            return True
        if target.get("reply_markup") == markup:
            raise _ApiError(400, _NOT_MODIFIED)
        _set_or_pop(target, "reply_markup", markup)
        target["edit_date"] = _now()
        return copy.deepcopy(target)

    async def _delete_message(self, params: JSONDict, files: Files) -> bool:
        key = (str(_require_chat(params)), int(params.get("message_id") or 0))
        if self._messages.pop(key, None) is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _answer_callback_query(self, params: JSONDict, files: Files) -> bool:
        if not params.get("callback_query_id"):
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        return True

    async def _set_my_commands(self, params: JSONDict, files: Files) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: commands is empty")
        for cmd in commands:
            name = str(cmd.get("command", "")) if isinstance(cmd, dict) else ""
            if not _BOT_COMMAND_NAME.fullmatch(name):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: JSONDict, files: Files) -> list[JSONDict]:
        return copy.deepcopy(self.commands.get(_commands_key(params), []))

    async def _delete_my_commands(self, params: JSONDict, files: Files) -> bool:
        self.commands.pop(_commands_key(params), None)
        return True

    async def _send_chat_action(self, params: JSONDict, files: Files) -> bool:
        _require_chat(params)
        if not params.get("action"):
            raise _ApiError(400, "Bad Request: action is empty")
        return True

    async def _get_file(self, params: JSONDict, files: Files) -> JSONDict:
        file_id = str(params.get("file_id") or "")
        upload = self.files.get(file_id)
        if upload is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path = next(p for p, f in self._file_paths.items() if f == file_id)
        return {"file_id": file_id, "file_unique_id": f"AgAD{zlib.crc32(file_id.encode()):08x}",
                "file_size": len(upload.content), "file_path": path}

    async def _delete_webhook(self, params: JSONDict, files: Files) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _set_webhook(self, params: JSONDict, files: Files) -> bool:
        self.webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, params: JSONDict, files: Files) -> JSONDict:
        return {"url": self.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(self._pending)}

    # ----------------------------------------------------------------- state helpers

    def _signal_updates(self) -> None:
        self._update_signal.set()
        self._update_signal = asyncio.Event()

    def _confirm(self, offset: int) -> None:
        """Telegram: offset > 0 confirms the ids below it; offset < 0 keeps the last -offset."""
        if offset > 0:
            self.confirmed_offset = max(self.confirmed_offset, offset)
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _update(self, kind: str, payload: JSONDict, update_id: int | None) -> JSONDict:
        update: JSONDict = {kind: payload}
        if update_id is not None:
            update = {"update_id": update_id, **update}
        return update

    def _user_message(
        self,
        *,
        chat_id: int | None,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        chat_type: str,
        chat_title: str | None,
        message_id: int | None,
        date: int | None,
    ) -> JSONDict:
        user = _user(user_id, first_name, last_name, username, language_code)
        chat = self._make_chat(chat_id, chat_type, chat_title, user)
        return {
            "message_id": self._claim_message_id(chat["id"], message_id),
            "from": user,
            "chat": chat,
            "date": date if date is not None else _now(),
        }

    def _make_chat(
        self, chat_id: int | None, chat_type: str, title: str | None, user: JSONDict
    ) -> JSONDict:
        if chat_type == "private":
            chat: JSONDict = {"id": chat_id if chat_id is not None else user["id"],
                              "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    chat[key] = user[key]
        else:
            default = DEFAULT_GROUP_CHAT_ID
            if chat_type in ("supergroup", "channel"):
                default = DEFAULT_SUPERGROUP_CHAT_ID
            chat = {"id": chat_id if chat_id is not None else default,
                    "title": title or DEFAULT_GROUP_TITLE}
        chat["type"] = chat_type
        return chat

    def _chat_for(self, chat_id: int | str) -> JSONDict:
        known = self._chats.get(str(chat_id))
        if known is not None:
            return dict(known)
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            return {"id": -1000000000000 - zlib.crc32(chat_id.encode()),
                    "title": chat_id[1:], "username": chat_id[1:], "type": "channel"}
        cid = int(chat_id)
        if cid > 0:
            return {"id": cid, "type": "private"}
        return {"id": cid, "title": DEFAULT_GROUP_TITLE,
                "type": "supergroup" if str(cid).startswith("-100") else "group"}

    def _next_message_id(self, chat_id: int | str) -> int:
        self._message_ids[str(chat_id)] += 1
        return self._message_ids[str(chat_id)]

    def _claim_message_id(self, chat_id: int | str, message_id: int | None) -> int:
        if message_id is None:
            return self._next_message_id(chat_id)
        key = str(chat_id)
        self._message_ids[key] = max(self._message_ids[key], message_id)
        return message_id

    def _store(self, message: JSONDict, *, from_bot: bool) -> None:
        key = (str(message["chat"]["id"]), int(message["message_id"]))
        self._messages[key] = copy.deepcopy(message)
        if from_bot:
            self._bot_messages.add(key)
        else:
            self._bot_messages.discard(key)

    def _remember(self, update: JSONDict) -> None:
        """Learn chats and messages from a pushed update, so replies and edits look real."""
        for kind, payload in update.items():
            if not isinstance(payload, dict):
                continue
            message = payload.get("message") if kind == "callback_query" else payload
            if not isinstance(message, dict) or not {"chat", "message_id"} <= message.keys():
                continue
            chat = message["chat"]
            self._chats[str(chat["id"])] = dict(chat)
            self._claim_message_id(chat["id"], int(message["message_id"]))
            if message.get("date", 0) != 0:
                from_bot = message.get("from", {}).get("id") == self.bot_user["id"]
                self._store(message, from_bot=from_bot)

    def _new_bot_message(self, chat_id: int | str, params: JSONDict, **fields: Any) -> JSONDict:
        chat = self._chat_for(chat_id)
        message: JSONDict = {
            "message_id": self._next_message_id(chat["id"]),
            "from": dict(self.bot_user),
            "chat": chat,
            "date": _now(),
        }
        reply = params.get("reply_parameters")
        if isinstance(reply, dict) and "message_id" in reply:
            original = self._messages.get((str(chat["id"]), int(reply["message_id"])))
            if original is not None:
                original = {k: v for k, v in original.items() if k != "reply_to_message"}
                message["reply_to_message"] = original
        for key, value in fields.items():
            if value is not None:
                message[key] = value
        self._store(message, from_bot=True)
        return copy.deepcopy(message)

    def _edit_target(self, params: JSONDict) -> JSONDict | None:
        """The stored message an edit applies to; None for inline messages (result True)."""
        if params.get("inline_message_id"):
            return None
        chat_id = _require_chat(params)
        if params.get("message_id") is None:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        chat = self._chat_for(chat_id)
        key = (str(chat["id"]), int(params["message_id"]))
        if key not in self._messages:
            # Lenient: a message this fake never saw is taken to be the bot's own.
            self._claim_message_id(chat["id"], key[1])
            self._store({"message_id": key[1], "from": dict(self.bot_user), "chat": chat,
                         "date": _now() - 60, "text": ""}, from_bot=True)
        elif key not in self._bot_messages:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return self._messages[key]

    def _new_file_id(self, prefix: str) -> tuple[str, str]:
        self._counter += 1
        return f"{prefix}{self._counter:06d}", f"AQAD{self._counter:06d}"

    def _register_file(self, file_id: str, upload: UploadedFile, folder: str) -> None:
        self.files[file_id] = upload
        suffix = ""
        if upload.filename and "." in upload.filename:
            suffix = "." + upload.filename.rsplit(".", 1)[1]
        self._file_paths[f"{folder}/file_{len(self._file_paths)}{suffix}"] = file_id


def _user(user_id: int, first_name: str, last_name: str | None, username: str | None,
          language_code: str | None) -> JSONDict:
    user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
    optional = (("last_name", last_name), ("username", username), ("language_code", language_code))
    for key, value in optional:
        if value is not None:
            user[key] = value
    return user


def _require_chat(params: JSONDict) -> int | str:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise _ApiError(400, "Bad Request: chat_id is empty")
    return chat_id


def _check_markup(markup: Any) -> JSONDict | None:
    """Validate an inline keyboard as Telegram does; return what a Message would echo."""
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    rows: Iterable[Any] = markup["inline_keyboard"]
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _set_or_pop(target: JSONDict, key: str, value: Any) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


def _commands_key(params: JSONDict) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")
