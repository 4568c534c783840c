"""Telegram channel benchmark: the real python-telegram-bot Application (long polling, our
per-chat ordering processor, inbox, sender, aiohttp transport) against the fake Bot API running
in its own process (`telegram_far_end.py`: Telegram is another machine, so its work is not
counted against the bot), with the real engine and SQLite store.

Prints, and asserts nothing:
- the bare engine on the same workload: back to back, and one message every 20 ms — the pace
  of the one-at-a-time run below, and the fair baseline (a turn after an idle pause runs on
  cold caches and takes ~2x as long as back to back);
- floors, before the run: a bare sendMessage round trip to the far end; PTB's send_message
  through its default httpx transport and through ours; a trip to the database thread and
  one inbox write (what a durable inbox costs at the least);
- one update at a time: push -> sendMessage, split into the far end and the wire, the
  adapter before the engine (reading the getUpdates answer, the inbox write, PTB's parsing
  and dispatch), the engine, and the adapter after it (render, rate limiter, PTB's request);
  "the adapter's own time" is the bot's time outside the engine, checked against the goal;
- 200 families x 10 messages pushed at once: updates/s and p50/p99 from push to sendMessage,
  with our per-chat pacing off and on (1 message/s per chat, burst 3).

Telegram's own global limit (AIORateLimiter, ~30 messages/s for the whole bot) is switched off
for the throughput runs, or every run would just measure that limit (2,000 replies take >= 67 s
through it); `--telegram-limit` runs a short extra round with it on.

    .venv/bin/python tests/bench/telegram.py [--families 200] [--messages 10] [--telegram-limit]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# this file is called telegram.py: its own folder must not shadow the `telegram` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from telegram.ext import AIORateLimiter  # noqa: E402

from bot.app import start  # noqa: E402
from bot.channels.telegram import TelegramChannel, build_channel  # noqa: E402
from bot.channels.telegram.transport import AiohttpRequest  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.messages import Incoming  # noqa: E402
from fakes.telegram_api import DEFAULT_TOKEN, FakeBotAPI  # noqa: E402

PAUSE = 0.02  # one at a time: between an update's first reply and the next update
# The goals for the adapter's own time (#15, restating the first Telegram issue's): p50 and p99, ms.
GOALS_MS = {50: 2.0, 99: 5.0}
QUESTIONS = ["when does school start", "my son is sick today", "is the bus late", "whats for lunch",
             "hello", "when is winter break", "i forgot my portal password", "thanks!",
             "como pago el almuerzo", "recommend a movie"]


class TimedFakeBotAPI(FakeBotAPI):
    """The fake, plus when each successful sendMessage was answered, per chat."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent_at: dict[str, list[float]] = defaultdict(list)

    def _finish(self, call, status, body):  # type: ignore[override]
        if call.method == "sendMessage" and status == 200:
            self.sent_at[str(call.params.get("chat_id"))].append(time.perf_counter())
        return super()._finish(call, status, body)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def summary(label: str, latencies_ms: list[float], elapsed: float | None = None, count: int | None = None) -> None:
    rate = f"{count / elapsed:8.0f} updates/s" if elapsed and count else " " * 18
    print(f"{label:44} {rate}  p50 {pct(latencies_ms, 50):8.1f} ms  p99 {pct(latencies_ms, 99):8.1f} ms"
          f"  max {max(latencies_ms):8.1f} ms")


def settings_for(tmp: str, fake: FakeBotAPI) -> Settings:
    return Settings.from_env({"HOMEROOM_DATA_DIR": tmp, "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                              "TELEGRAM_API_BASE_URL": fake.base_url, "TELEGRAM_API_FILE_URL": fake.base_file_url})


def text_for(family: int, j: int) -> str:
    return QUESTIONS[(family + j) % len(QUESTIONS)]


async def bare_engine(families: int, messages: int) -> tuple[list[float], list[float], list[float], float]:
    """Baseline: the same messages straight into Engine.handle."""
    with tempfile.TemporaryDirectory() as tmp:
        app = await start(Settings.from_env({"HOMEROOM_DATA_DIR": tmp}))
        try:
            await asyncio.get_running_loop().run_in_executor(None, app.understanding.current.detector.warm)
            for i in range(100):  # warm up caches and the language detector
                await app.engine.handle(Incoming("telegram", "warm", "warm", QUESTIONS[i % len(QUESTIONS)]))
            sequential, paused = [], []
            for i in range(300):
                t = time.perf_counter()
                await app.engine.handle(Incoming("telegram", f"s{i % 30}", f"s{i % 30}", text_for(i, i // 30)))
                sequential.append((time.perf_counter() - t) * 1000)
            for i in range(300):  # spaced as the far end sends them: caches cool between turns
                await asyncio.sleep(PAUSE)
                t = time.perf_counter()
                await app.engine.handle(Incoming("telegram", f"p{i % 30}", f"p{i % 30}", text_for(i, i // 30)))
                paused.append((time.perf_counter() - t) * 1000)
            burst: list[float] = []

            async def family(i: int) -> None:
                for j in range(messages):
                    t = time.perf_counter()
                    await app.engine.handle(Incoming("telegram", str(900000 + i), str(900000 + i), text_for(i, j)))
                    burst.append((time.perf_counter() - t) * 1000)

            t0 = time.perf_counter()
            await asyncio.gather(*(family(i) for i in range(families)))
            return sequential, paused, burst, time.perf_counter() - t0
        finally:
            await app.close()


async def http_floor(api: int, count: int = 300) -> None:
    """What the far end and the wire cost for one sendMessage, from a bare aiohttp client: no
    adapter can go below it."""
    import aiohttp

    times: list[float] = []
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            began = time.perf_counter()
            async with session.post(f"http://127.0.0.1:{api}/bot{DEFAULT_TOKEN}/sendMessage",
                                    data={"chat_id": "7", "text": QUESTIONS[i % len(QUESTIONS)]}) as response:
                await response.read()
            times.append((time.perf_counter() - began) * 1000)
    summary("  floor: a bare sendMessage round trip", times)


async def transport_floor(api: int, count: int = 300) -> None:
    """PTB's `send_message` to the same far end through its default httpx transport and
    through ours (bot/channels/telegram/transport.py)."""
    from telegram import Bot
    from telegram.request import HTTPXRequest

    for label, request in (("httpx, PTB's default", HTTPXRequest(connection_pool_size=4)),
                           ("aiohttp, ours", AiohttpRequest(connection_pool_size=4))):
        times: list[float] = []
        async with Bot(DEFAULT_TOKEN, base_url=f"http://127.0.0.1:{api}/bot", request=request) as bot:
            for i in range(count):
                began = time.perf_counter()
                await bot.send_message(7, QUESTIONS[i % len(QUESTIONS)])
                times.append((time.perf_counter() - began) * 1000)
        summary(f"  PTB send_message over {label}", times)


async def database_floor(count: int = 200) -> None:
    """What a durable inbox costs at the least, one every PAUSE as in the run: a trip to the
    database thread with nothing to do, and one inbox write (`Database.transact`)."""
    from bot.storage import Database, inbox

    hop: list[float] = []
    write: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database(Path(tmp) / "floor.sqlite3").open()
        try:
            for i in range(count):
                await asyncio.sleep(PAUSE)
                began = time.perf_counter()
                await db.run(lambda conn: None)
                hop.append((time.perf_counter() - began) * 1000)
                await asyncio.sleep(PAUSE)
                began = time.perf_counter()
                await db.transact(inbox.record, "telegram", [(i, "1", "{}")], "2026-01-01T00:00:00+00:00")
                write.append((time.perf_counter() - began) * 1000)
        finally:
            await db.close()
    summary("  floor: a trip to the database thread", hop)
    summary("  floor: one inbox write", write)


def instrument(homeroom, clock) -> tuple[dict[str, list[int]], dict[str, list[tuple[float, float]]]]:
    """Record, per chat and in order, how many replies the engine gave each update (to pair
    pushes with sends) and when it started and finished."""
    replies: dict[str, list[int]] = defaultdict(list)
    engine_times: dict[str, list[tuple[float, float]]] = defaultdict(list)
    handle = homeroom.engine.handle

    async def counted(incoming: Incoming, **options: Any):
        began = clock()
        out = await handle(incoming, **options)
        engine_times[incoming.chat_id].append((began, clock()))
        replies[incoming.chat_id].append(len(out))
        return out
    homeroom.engine.handle = counted  # type: ignore[method-assign]
    return replies, engine_times


def pair_up(pushed, sent, replies, engine_times) -> tuple[list[float], dict[str, list[float]]]:
    """Latency from each push to its first sendMessage, and the stages in between."""
    latencies: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    for chat, times in pushed.items():
        sends, counts, engine = sent.get(chat, []), replies[chat], engine_times[chat]
        index = 0
        for k, pushed_at in enumerate(times):
            if k < len(counts) and counts[k] and index < len(sends):
                latencies.append((sends[index] - pushed_at) * 1000)
                began, ended = engine[k]
                stages["push -> engine (poll, inbox, queue)"].append((began - pushed_at) * 1000)
                stages["engine"].append((ended - began) * 1000)
                stages["engine -> sendMessage (render, HTTP)"].append((sends[index] - ended) * 1000)
            index += counts[k] if k < len(counts) else 0
    return latencies, stages


async def through_telegram(families: int, messages: int, *, pace: float, sequential: bool = False,
                           telegram_limit: bool = False) -> tuple[list[float], float, int, dict[str, list[float]]]:
    """Push updates into the fake and time each until its (first) sendMessage."""
    async with TimedFakeBotAPI(token=DEFAULT_TOKEN) as fake:
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(tmp, fake)
            homeroom = await start(settings)
            limiter = (AIORateLimiter(max_retries=2) if telegram_limit
                       else AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=2))
            channel = build_channel(settings, homeroom, pace=pace, rate_limiter=limiter)
            replies, engine_times = instrument(homeroom, time.perf_counter)
            pushed: dict[str, list[float]] = defaultdict(list)
            try:
                # like the bare-engine run: language models loaded before anything is measured
                await asyncio.get_running_loop().run_in_executor(None, homeroom.understanding.current.detector.warm)
                await channel.start(poll_timeout=10)
                for i in range(50):  # warm-up family, not measured
                    fake.push_update(fake.message_update(QUESTIONS[i % len(QUESTIONS)], user_id=1))
                await fake.wait_for("sendMessage", 50, timeout=60)
                total = families * messages
                t0 = time.perf_counter()
                if sequential:
                    for j in range(messages):
                        for i in range(families):
                            chat = 500000 + i
                            before = len(fake.sent_at[str(chat)])
                            pushed[str(chat)].append(time.perf_counter())
                            fake.push_update(fake.message_update(text_for(i, j), user_id=chat))
                            while len(fake.sent_at[str(chat)]) <= before:
                                await asyncio.sleep(0.0005)
                            await _until_handled(channel, 50 + j * families + i + 1)
                else:
                    for j in range(messages):
                        for i in range(families):
                            chat = 500000 + i
                            pushed[str(chat)].append(time.perf_counter())
                            fake.push_update(fake.message_update(text_for(i, j), user_id=chat))
                await _until_handled(channel, 50 + total, timeout=600)
                elapsed = time.perf_counter() - t0
            finally:
                await channel.stop()
                await homeroom.close()
            latencies, stages = pair_up(pushed, fake.sent_at, replies, engine_times)
            return latencies, elapsed, total, stages


class BotSideClock:
    """When each update's getUpdates answer was in the bot's hands, how long its inbox write
    took, and when each sendMessage left for the transport, from inside the bot (wrappers around
    our Bot API transport and the channel's inbox write). With the engine's own times this
    splits an update's path into: the far end and the wire, the adapter before the engine (of
    which the inbox write), the engine, the adapter after it."""

    def __init__(self) -> None:
        self.arrived: list[tuple[float, bytes]] = []
        self.sending: dict[str, list[float]] = defaultdict(list)
        self.writes: dict[str, list[float]] = defaultdict(list)
        self._originals: tuple[Any, Any] | None = None

    def install(self) -> None:
        do_request, record = AiohttpRequest.do_request, TelegramChannel._record_fetched
        clock = self

        async def timed(request, url: str, method: str, request_data=None, *args: Any, **kwargs: Any):
            name = url.rsplit("/", 1)[-1]
            if name == "sendMessage" and request_data is not None:
                began = time.monotonic()
                clock.sending[str(request_data.parameters.get("chat_id"))].append(began)
            status, body = await do_request(request, url, method, request_data, *args, **kwargs)
            if name == "getUpdates":
                clock.arrived.append((time.monotonic(), body))  # parsed after the run, not here
            return status, body

        async def timed_record(channel, updates: list[dict[str, Any]]) -> list[int]:
            began = time.monotonic()
            new = await record(channel, updates)
            for update in updates:
                clock.writes[str(update["message"]["chat"]["id"])].append((time.monotonic() - began) * 1000)
            return new
        AiohttpRequest.do_request = timed  # type: ignore[method-assign]
        TelegramChannel._record_fetched = timed_record  # type: ignore[method-assign]
        self._originals = (do_request, record)

    def uninstall(self) -> None:
        if self._originals is not None:
            AiohttpRequest.do_request, TelegramChannel._record_fetched = self._originals  # type: ignore[method-assign]

    def clear(self) -> None:
        self.arrived.clear()
        self.sending.clear()
        self.writes.clear()

    def received(self) -> dict[str, list[float]]:
        """Per chat, in order: when each update's getUpdates answer had been read."""
        per_chat: dict[str, list[float]] = defaultdict(list)
        for at, body in self.arrived:
            for update in json.loads(body).get("result", []):
                per_chat[str(update["message"]["chat"]["id"])].append(at)
        return per_chat


def adapter_split(received, sending, writes, engine_times) -> dict[str, list[float]]:
    """Per update: the bot's own time before and after the engine, outside the far end."""
    split: dict[str, list[float]] = defaultdict(list)
    for chat, engine in engine_times.items():
        starts = sending.get(chat, [])
        for k, (began, ended) in enumerate(engine):
            after = next((t for t in starts if t >= ended), None)
            if k >= len(received.get(chat, [])) or after is None:
                continue
            before = (began - received[chat][k]) * 1000
            split["  adapter: before the engine (inbox, PTB)"].append(before)
            if k < len(writes.get(chat, [])):
                split["    of which the inbox write"].append(writes[chat][k])
            split["  adapter: after the engine (render, PTB)"].append((after - ended) * 1000)
            split["  adapter: in all (outside the engine)"].append(before + (after - ended) * 1000)
    return split


async def through_far_end(families: int, messages: int, *, pace: float, sequential: bool = False
                          ) -> tuple[list[float], float, int, dict[str, list[float]]]:
    """Push updates from the fake Bot API in its own process (tests/bench/telegram_far_end.py:
    the bot's process runs only the bot, as in production) and time each until its first
    sendMessage reached the fake."""
    import aiohttp

    proc = await asyncio.create_subprocess_exec(sys.executable, str(Path(__file__).with_name("telegram_far_end.py")),
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    clock = BotSideClock()
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
        api, control = int(line[1]), int(line[2])
        if sequential:
            await http_floor(api)
            await transport_floor(api)
            await database_floor()
        clock.install()
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env({"HOMEROOM_DATA_DIR": tmp, "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                                          "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{api}/bot",
                                          "TELEGRAM_API_FILE_URL": f"http://127.0.0.1:{api}/file/bot"})
            homeroom = await start(settings)
            channel = build_channel(settings, homeroom, pace=pace,
                                    rate_limiter=AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=2))
            replies, engine_times = instrument(homeroom, time.monotonic)
            try:
                await asyncio.get_running_loop().run_in_executor(None, homeroom.understanding.current.detector.warm)
                await channel.start(poll_timeout=10)
                async with aiohttp.ClientSession(f"http://127.0.0.1:{control}") as session:
                    async def run(mode: str, updates: list[dict[str, Any]], handled: int) -> dict:
                        await session.post("/script", json={"mode": mode, "updates": updates, "pause": PAUSE})
                        while True:  # a few cheap requests a second: not a measurable load
                            await asyncio.sleep(0.25)
                            async with session.get("/results") as resp:
                                results = await resp.json()
                            if results["done"] and sum(channel.outcomes.values()) >= handled:
                                return results
                    warm = [{"chat": 1, "text": QUESTIONS[i % len(QUESTIONS)]} for i in range(50)]
                    await run("sequential", warm, 50)
                    replies.clear()
                    engine_times.clear()
                    clock.clear()
                    total = families * messages
                    work = [{"chat": 500000 + i, "text": text_for(i, j)} for j in range(messages) for i in range(families)]
                    t0 = time.monotonic()
                    results = await run("sequential" if sequential else "burst", work, 50 + total)
                    elapsed = time.monotonic() - t0
            finally:
                await channel.stop()
                await homeroom.close()
    finally:
        clock.uninstall()
        proc.stdin.close()
        await proc.wait()
    print("far end saw:", dict(results["calls"]))
    latencies, stages = pair_up(results["pushed"], results["sent"], replies, engine_times)
    stages.update(adapter_split(clock.received(), clock.sending, clock.writes, engine_times))
    return latencies, elapsed, total, stages


async def _until_handled(channel, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sum(channel.outcomes.values()) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {sum(channel.outcomes.values())} of {count} updates handled")
        await asyncio.sleep(0.002)


async def main(families: int, messages: int, telegram_limit: bool) -> None:
    logging.disable(logging.INFO)  # one log line per update would dominate the measurement
    print(f"{families} families x {messages} messages\n")
    back_to_back, baseline, burst_engine, burst_elapsed = await bare_engine(families, messages)
    summary("bare engine, back to back", back_to_back)
    summary(f"bare engine, one every {PAUSE * 1000:.0f} ms (the baseline)", baseline)
    summary("bare engine, all families at once", burst_engine, burst_elapsed, families * messages)

    print("\n-- the real Application; the fake Bot API in its own process")
    seq, elapsed, count, stages = await through_far_end(30, 10, pace=0, sequential=True)
    summary(f"one update every {PAUSE * 1000:.0f} ms (push->send)", seq, elapsed, count)
    for name, values in stages.items():
        summary(f"  {name}", values)
    adapter = stages["  adapter: in all (outside the engine)"]
    print(f"{'':44} push->send over the baseline: p50 {pct(seq, 50) - pct(baseline, 50):+.1f} ms, "
          f"p99 {pct(seq, 99) - pct(baseline, 99):+.1f} ms (includes the far end and the wire)")
    for q, goal in GOALS_MS.items():
        print(f"{'':44} the adapter's own time: p{q} {pct(adapter, q):.2f} ms; goal <= {goal:.0f} ms: "
              f"{'met' if pct(adapter, q) <= goal else 'NOT met'}")
    lat, elapsed, count, _ = await through_far_end(families, messages, pace=0)
    summary("all at once, pacing off", lat, elapsed, count)
    lat, elapsed, count, _ = await through_far_end(families, messages, pace=1.0)
    summary("all at once, pacing 1/s (burst 3)", lat, elapsed, count)
    if telegram_limit:
        lat, elapsed, count, _ = await through_telegram(families, 1, pace=0, telegram_limit=True)
        summary("1 msg each, Telegram's 30/s limit (fake in-process)", lat, elapsed, count)
    print(f"\nmean of the bare engine at once: {statistics.mean(burst_engine):.1f} ms per message")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--telegram-limit", action="store_true", help="also run with Telegram's 30 msg/s limit")
    args = parser.parse_args()
    asyncio.run(main(args.families, args.messages, args.telegram_limit))
