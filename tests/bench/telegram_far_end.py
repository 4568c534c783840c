"""The far end of the Telegram benchmark: the fake Bot API in its own process, so its work is
not counted against the bot (real Telegram is another machine). It also drives the workload,
so the bot's process runs nothing but the bot.

    python tests/bench/telegram_far_end.py    # prints "ready <api port> <control port>"

Control (JSON over HTTP on the control port):
- POST /script {"mode": "sequential" | "burst", "pause": 0.02, "updates": [{"chat": 1, "text": "…"}, …]}:
  burst pushes them all at once; sequential pushes one, waits for the bot's first sendMessage
  to that chat, pauses, then the next.
- GET /results: {"pushed": {chat: [t, …]}, "sent": {chat: [t, …]}, "done": bool}, times from
  time.monotonic() (one clock for every process on Linux).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests"))

from aiohttp import web  # noqa: E402

from fakes.telegram_api import DEFAULT_TOKEN, FakeBotAPI  # noqa: E402


class FarEnd(FakeBotAPI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent_at: dict[str, list[float]] = defaultdict(list)
        self.pushed_at: dict[str, list[float]] = defaultdict(list)
        self.first_reply: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.done = True

    def _finish(self, call, status, body):  # type: ignore[override]
        if call.method == "sendMessage" and status == 200:
            chat = str(call.params.get("chat_id"))
            self.sent_at[chat].append(time.monotonic())
            self.first_reply[chat].set()
        return super()._finish(call, status, body)

    def push(self, chat: int, text: str) -> None:
        self.pushed_at[str(chat)].append(time.monotonic())
        self.push_update(self.message_update(text, user_id=chat))

    async def run(self, mode: str, updates: list[dict[str, Any]], pause: float) -> None:
        self.done = False
        try:
            if mode == "burst":
                for u in updates:
                    self.push(u["chat"], u["text"])
                return
            for u in updates:
                chat = str(u["chat"])
                self.first_reply[chat] = asyncio.Event()
                self.push(u["chat"], u["text"])
                await asyncio.wait_for(self.first_reply[chat].wait(), 60)
                await asyncio.sleep(pause)
        finally:
            self.done = True


async def main() -> None:
    far = FarEnd(token=DEFAULT_TOKEN)
    await far.start()
    tasks: set[asyncio.Task] = set()

    async def script(request: web.Request) -> web.Response:
        body = await request.json()
        far.sent_at.clear()
        far.pushed_at.clear()
        task = asyncio.ensure_future(far.run(body["mode"], body["updates"], float(body.get("pause", 0.02))))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return web.json_response({"ok": True})

    async def results(request: web.Request) -> web.Response:
        calls: dict[str, int] = defaultdict(int)
        for call in far.requests:
            calls[call.method] += 1
        return web.json_response({"pushed": far.pushed_at, "sent": far.sent_at, "done": far.done, "calls": calls})

    control = web.Application()
    control.router.add_post("/script", script)
    control.router.add_get("/results", results)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"ready {far.port} {port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the bench closes stdin
    await runner.cleanup()
    await far.stop()


if __name__ == "__main__":
    asyncio.run(main())
