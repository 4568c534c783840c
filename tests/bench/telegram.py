"""Telegram channel benchmark: the real python-telegram-bot Application (long polling, our
per-chat ordering processor, inbox, sender) against the local fake Bot API server, with the
real engine and SQLite store.

Prints, and asserts nothing:
- the bare engine on the same workload (baseline);
- one update at a time: latency from pushing an update into the fake to its sendMessage,
  next to the bare engine's latency for the same messages (the adapter's overhead);
- 200 families x 10 messages pushed at once: updates/s and p50/p99 from push to sendMessage,
  with our per-chat pacing off and on (1 message/s per chat, burst 3).

Telegram's own global limit (AIORateLimiter, ~30 messages/s for the whole bot) is switched off
for the throughput runs, or every run would just measure that limit (2,000 replies take >= 67 s
through it); `--telegram-limit` runs a short extra round with it on. Each run is done twice: with
the fake in its own process driving the workload (`telegram_far_end.py`; what production looks
like: Telegram is another machine) and, for comparison, in the bot's own event loop, where its
work is counted against the bot.

    .venv/bin/python tests/bench/telegram.py [--families 200] [--messages 10] [--telegram-limit]
"""

from __future__ import annotations

import argparse
import asyncio
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
from bot.channels.telegram import build_channel  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.messages import Incoming  # noqa: E402
from fakes.telegram_api import DEFAULT_TOKEN, FakeBotAPI  # noqa: E402

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


async def bare_engine(families: int, messages: int) -> tuple[list[float], list[float], float]:
    """Baseline: the same messages straight into Engine.handle."""
    with tempfile.TemporaryDirectory() as tmp:
        app = await start(Settings.from_env({"HOMEROOM_DATA_DIR": tmp}))
        try:
            await asyncio.get_running_loop().run_in_executor(None, app.engine.detector.warm)
            for i in range(100):  # warm up caches and the language detector
                await app.engine.handle(Incoming("telegram", "warm", "warm", QUESTIONS[i % len(QUESTIONS)]))
            sequential = []
            for i in range(300):
                t = time.perf_counter()
                await app.engine.handle(Incoming("telegram", f"s{i % 30}", f"s{i % 30}", text_for(i, i // 30)))
                sequential.append((time.perf_counter() - t) * 1000)
            burst: list[float] = []

            async def family(i: int) -> None:
                for j in range(messages):
                    t = time.perf_counter()
                    await app.engine.handle(Incoming("telegram", str(900000 + i), str(900000 + i), text_for(i, j)))
                    burst.append((time.perf_counter() - t) * 1000)

            t0 = time.perf_counter()
            await asyncio.gather(*(family(i) for i in range(families)))
            return sequential, burst, time.perf_counter() - t0
        finally:
            await app.close()


async def http_floor(api: int, count: int = 300) -> None:
    """What one bare HTTP round trip to the far end costs (httpx, as PTB uses): an update needs
    at least two (getUpdates answering, sendMessage), so this bounds the adapter from below."""
    import httpx

    times: list[float] = []
    async with httpx.AsyncClient() as client:
        for _ in range(count):
            began = time.perf_counter()
            await client.post(f"http://127.0.0.1:{api}/bot{DEFAULT_TOKEN}/getMe")
            times.append((time.perf_counter() - began) * 1000)
    summary("  floor: one bare HTTP round trip (httpx)", times)


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
                await asyncio.get_running_loop().run_in_executor(None, homeroom.engine.detector.warm)
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


async def through_far_end(families: int, messages: int, *, pace: float, sequential: bool = False
                          ) -> tuple[list[float], float, int, dict[str, list[float]]]:
    """Like `through_telegram`, with the fake Bot API in its own process driving the workload
    (tests/bench/telegram_far_end.py): the bot's process runs only the bot, as in production."""
    import aiohttp

    proc = await asyncio.create_subprocess_exec(sys.executable, str(Path(__file__).with_name("telegram_far_end.py")),
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
        api, control = int(line[1]), int(line[2])
        if sequential:
            await http_floor(api)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env({"HOMEROOM_DATA_DIR": tmp, "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                                          "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{api}/bot",
                                          "TELEGRAM_API_FILE_URL": f"http://127.0.0.1:{api}/file/bot"})
            homeroom = await start(settings)
            channel = build_channel(settings, homeroom, pace=pace,
                                    rate_limiter=AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=2))
            replies, engine_times = instrument(homeroom, time.monotonic)
            try:
                await asyncio.get_running_loop().run_in_executor(None, homeroom.engine.detector.warm)
                await channel.start(poll_timeout=10)
                async with aiohttp.ClientSession(f"http://127.0.0.1:{control}") as session:
                    async def run(mode: str, updates: list[dict[str, Any]], handled: int) -> dict:
                        await session.post("/script", json={"mode": mode, "updates": updates})
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
                    total = families * messages
                    work = [{"chat": 500000 + i, "text": text_for(i, j)} for j in range(messages) for i in range(families)]
                    t0 = time.monotonic()
                    results = await run("sequential" if sequential else "burst", work, 50 + total)
                    elapsed = time.monotonic() - t0
            finally:
                await channel.stop()
                await homeroom.close()
    finally:
        proc.stdin.close()
        await proc.wait()
    print("far end saw:", dict(results["calls"]))
    latencies, stages = pair_up(results["pushed"], results["sent"], replies, engine_times)
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
    seq_engine, burst_engine, burst_elapsed = await bare_engine(families, messages)
    summary("bare engine, one at a time", seq_engine)
    summary("bare engine, all families at once", burst_engine, burst_elapsed, families * messages)

    for where, run in (("fake in its own process", through_far_end), ("fake in the bot's process", through_telegram)):
        print(f"\n-- {where}")
        seq, elapsed, count, stages = await run(30, 10, pace=0, sequential=True)
        summary("telegram, one update at a time (push->send)", seq, elapsed, count)
        for name, values in stages.items():
            summary(f"  {name}", values)
        print(f"{'':44} push->send over the bare engine: p50 "
              f"{pct(seq, 50) - pct(seq_engine, 50):+.1f} ms, p99 {pct(seq, 99) - pct(seq_engine, 99):+.1f} ms")
        lat, elapsed, count, _ = await run(families, messages, pace=0)
        summary("telegram, all at once, pacing off", lat, elapsed, count)
        lat, elapsed, count, _ = await run(families, messages, pace=1.0)
        summary("telegram, all at once, pacing 1/s (burst 3)", lat, elapsed, count)
    if telegram_limit:
        lat, elapsed, count, _ = await through_telegram(families, 1, pace=0, telegram_limit=True)
        summary("telegram, 1 msg each, Telegram's 30/s limit", lat, elapsed, count)
    print(f"\nmean of the bare engine at once: {statistics.mean(burst_engine):.1f} ms per message")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--telegram-limit", action="store_true", help="also run with Telegram's 30 msg/s limit")
    args = parser.parse_args()
    asyncio.run(main(args.families, args.messages, args.telegram_limit))
