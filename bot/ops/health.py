"""`GET /healthz` for monitors and load balancers: 200 with the status as JSON when green,
503 with the reasons when red (see bot.ops.status for what makes it red).

Serve it on its own address (`HOMEROOM_HEALTH_LISTEN`, e.g. 127.0.0.1:8080; unset = off) with
`serve_health`, or add the route to another private server with `add_health_route`. The JSON
holds no family's data, but it does show the server's file paths (database, backups) and ticket
and outbox counts — so it is for a private address only (loopback or the school's private
network), never a public port: the Telegram webhook port answers its own `/healthz` with just
`ok` or `unavailable` (`bot.channels.telegram.webhook`).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.ops.status import StatusSource

log = logging.getLogger("bot.ops.health")
PATH = "/healthz"


def add_health_route(app: web.Application, status_source: StatusSource, path: str = PATH) -> web.Application:
    """Add `GET path` to an existing aiohttp application (before it starts)."""

    async def healthz(request: web.Request) -> web.Response:
        try:
            status = await status_source()
        except Exception as exc:  # the store itself is unreachable: that is red too
            log.error("health.unavailable error=%s", exc.__class__.__name__)
            return web.json_response({"status": "red", "reasons": [f"status unavailable: {exc.__class__.__name__}"]},
                                     status=503)
        return web.json_response(status.as_json(), status=200 if status.ok else 503)

    app.router.add_get(path, healthz)
    return app


def health_app(status_source: StatusSource) -> web.Application:
    return add_health_route(web.Application(), status_source)


async def start_health(status_source: StatusSource, listen: str) -> web.AppRunner:
    """Start serving `/healthz` on `listen` ("host:port"); the caller cleans up the runner."""
    host, _, port = listen.rpartition(":")
    runner = web.AppRunner(health_app(status_source), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host or "0.0.0.0", int(port)).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("health.listening address=%s path=%s", listen, PATH)
    return runner


async def serve_health(status_source: StatusSource, listen: str, stop: asyncio.Event) -> None:
    """Serve `/healthz` on `listen` until `stop` is set (a task beside the runner's workers)."""
    runner = await start_health(status_source, listen)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
