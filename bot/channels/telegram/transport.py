"""HTTP to the Bot API over aiohttp, in place of PTB's default httpx transport.

python-telegram-bot sends every call through a `BaseRequest`; its default is httpx. Against
the local fake Bot API in another process, on a 2-core machine, PTB's `send_message` took
p50 2.6 ms with httpx and 1.1 ms with this transport, and every update needs two calls (the
`getUpdates` that brings it, the `sendMessage` that answers it); the 200 × 10 burst of
tests/bench/telegram.py went from ~190 to ~390 updates/s. aiohttp is already ours (the webhook
server, the Slack SDK), and `BaseRequest` is PTB's documented extension point.

Behaviour kept from `HTTPXRequest`: the same default timeouts (pool 1 s, connect/read/write
5 s, 20 s to write an upload), `TimedOut` for a timeout and `NetworkError` for any other
transport failure, proxies from HTTPS_PROXY / HTTP_PROXY / NO_PROXY (read once per host:
aiohttp's own `trust_env` re-reads them, and ~/.netrc, in a thread on every call), the
connection pool size.
Parameters go form-encoded, files as multipart — what Telegram documents for both.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.request import getproxies, proxy_bypass_environment

import aiohttp
from yarl import URL
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

DEFAULT_TIMEOUT = 5.0
DEFAULT_POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one aiohttp session (created at `initialize`, closed at `shutdown`)."""

    def __init__(self, connection_pool_size: int = 1, *, read_timeout: float | None = DEFAULT_TIMEOUT,
                 write_timeout: float | None = DEFAULT_TIMEOUT, connect_timeout: float | None = DEFAULT_TIMEOUT,
                 pool_timeout: float | None = DEFAULT_POOL_TIMEOUT,
                 media_write_timeout: float | None = MEDIA_WRITE_TIMEOUT) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write, self._connect = read_timeout, write_timeout, connect_timeout
        self._pool, self._media_write = pool_timeout, media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # sessions bind to the running loop: made here, never in __init__
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None and request_data.contains_files else None
        read = self._read if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        write = ((self._media_write if files else self._write) if write_timeout is BaseRequest.DEFAULT_NONE
                 else write_timeout)
        connect = self._connect if connect_timeout is BaseRequest.DEFAULT_NONE else connect_timeout
        pool = self._pool if pool_timeout is BaseRequest.DEFAULT_NONE else pool_timeout
        # aiohttp has no write timeout: a small request fits in the socket buffer and cannot stall,
        # but an upload can, so an upload is bounded as a whole (pool + connect + write + read)
        total = _sum(_sum(pool, connect), _sum(write, read)) if files else None
        timeout = aiohttp.ClientTimeout(total=total, connect=_sum(pool, connect), sock_connect=connect,
                                        sock_read=read)
        try:
            async with self._session.request(method, url, data=_body(request_data, files),
                                             timeout=timeout, proxy=self._proxy_for(url)) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as exc:
            raise TimedOut(f"aiohttp: {exc.__class__.__name__}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc

    def _proxy_for(self, url: str) -> str | None:
        parsed = URL(url)
        key = (parsed.scheme, parsed.host or "")
        if key not in self._proxies:
            proxies = getproxies()
            bypass = proxies.get("no") and proxy_bypass_environment(key[1], proxies)
            self._proxies[key] = None if bypass else proxies.get(key[0])
        return self._proxies[key]


def _body(request_data: RequestData | None, files: dict[str, Any] | None) -> aiohttp.FormData | None:
    """Form-encoded parameters; multipart when there are files (as httpx's `data=`/`files=`)."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not fields and not files:
        return None
    form = aiohttp.FormData(fields)
    for name, (filename, content, mimetype) in (files or {}).items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b
