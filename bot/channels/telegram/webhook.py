"""Webhook mode: Telegram POSTs each update to a public HTTPS URL instead of being polled.

Our own small aiohttp server (aiohttp is already a dependency for Slack's HTTP mode) rather
than PTB's `run_webhook`: that one needs the `webhooks` extra (tornado, a second web
framework) and answers Telegram before anything is stored. Here each request is:

1. checked: the `X-Telegram-Bot-Api-Secret-Token` header must equal our secret (compared in
   constant time) — otherwise 403 and nothing is written;
2. written to the inbox (the same table long polling uses) *before* the 200 goes back, so an
   update Telegram considers delivered is always on disk;
3. queued for PTB only if the inbox did not know its `update_id` — a retry of an update that
   was already received (Telegram re-sends when our 200 was lost) does nothing twice.

Telegram keeps retrying while we answer non-2xx, so a refused write (database unavailable)
answers 503 and loses nothing. TLS is terminated in front of us (the platform's router or a
reverse proxy), as Procfile platforms do.

The same server answers `GET /healthz` for the platform's load balancer, without
authentication — so with one word only: `ok` (200) or `unavailable` (503), as text/plain.
This port faces the internet; the status's details (database and backup paths, ticket and
outbox counts, the reasons it is red) stay on the private `HOMEROOM_HEALTH_LISTEN` endpoint
(`bot.ops.health`) and in `homeroom status`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger("bot.telegram.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # updates are small; refuse anything that is not
HEALTHY, UNHEALTHY = "ok", "unavailable"  # all that /healthz ever says on this public port


def default_secret(token: str) -> str:
    """A stable secret derived from the bot token, for when TELEGRAM_WEBHOOK_SECRET is unset:
    only someone who holds the token can compute it, and it survives restarts."""
    return hashlib.sha256(f"homeroom-webhook:{token}".encode()).hexdigest()


def webhook_path(url: str) -> str:
    """The path Telegram will POST to, taken from the public URL (`/` when it has none)."""
    return urlsplit(url).path or "/"


class WebhookServer:
    """Receives updates over HTTP; `accept(raw_update) -> bool` stores one and says whether it
    is new (the channel then queues it). `health() -> bool` (is the bot green?) decides whether
    `GET /healthz` answers `ok` or `unavailable`; without it, answering at all means ok."""

    def __init__(self, path: str, secret: str, listen: str,
                 accept: Callable[[dict[str, Any]], Awaitable[bool]],
                 health: Callable[[], Awaitable[bool]] | None = None) -> None:
        self.path, self._secret, self._accept, self._health = path, secret.encode(), accept, health
        host, _, port = listen.rpartition(":")
        self.host, self.port = host or "0.0.0.0", int(port)
        self.web = web.Application(client_max_size=MAX_BODY)
        self.web.router.add_post(path, self._on_update)
        self.web.router.add_get("/healthz", self._on_health)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.web, access_log=None)  # access lines would name chats
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []  # port 0: the one the OS chose
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("telegram.webhook_listening host=%s port=%d path=%s", self.host, self.port, self.path)

    async def stop(self) -> None:
        """Stop accepting; requests in flight finish first (aiohttp's graceful shutdown)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("telegram.webhook_refused reason=%s remote=%s",
                        "missing_secret" if not given else "wrong_secret", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            raw = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        try:
            new = await self._accept(raw)
        except Exception as exc:  # Telegram retries non-2xx answers: the update is not lost
            log.error("telegram.webhook_store_failed update_id=%s error=%s", raw["update_id"],
                      exc.__class__.__name__)
            return web.Response(status=503, text="try again")
        if not new:
            log.info("telegram.webhook_duplicate update_id=%s", raw["update_id"])
        return web.Response(status=200)

    async def _on_health(self, request: web.Request) -> web.Response:
        """`ok` or `unavailable`, nothing else: anyone on the internet can ask."""
        try:
            healthy = True if self._health is None else bool(await self._health())
        except Exception as exc:  # the store itself is unreachable: that is red too
            log.error("telegram.webhook_health_failed error=%s", exc.__class__.__name__)
            healthy = False
        return web.Response(status=200 if healthy else 503, text=HEALTHY if healthy else UNHEALTHY,
                            content_type="text/plain")
