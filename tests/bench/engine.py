"""Engine benchmark: simulated families through the in-process engine and the real SQLite store.

Prints messages/s, p50/p99 latency, peak RSS, and the cold start of `homeroom chat` to its first
reply, with the matcher the bot would use (the semantic one unless HOMEROOM_UNDERSTANDING=lexical).
Every message is a new text, as parents' messages are, so each one is embedded; a second line
repeats the same ten questions (the vector cache's case). The understanding cache is the bot's own
(HOMEROOM_CACHE_DIR, default ./data/cache): run `homeroom chat` once first so it is warm.
Goals (issue 13, 2 cores): >= 100 msg/s sustained with the semantic path, cold start <= 2 s with a
warm cache, idle RSS <= 250 MB.

    .venv/bin/python tests/bench/engine.py [--families 200] [--messages 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.app import start  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.messages import Incoming  # noqa: E402

QUESTIONS = ["when does school start", "my son is sick today", "is the bus late", "whats for lunch",
             "hello", "when is winter break", "i forgot my portal password", "thanks!",
             "como pago el almuerzo", "recommend a movie"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


CACHE = os.environ.get("HOMEROOM_CACHE_DIR") or str(ROOT / "data" / "cache")


def question(n: int) -> str:
    """A new text each time (a number and a varying tail), never one the vector cache holds."""
    return f"{QUESTIONS[n % len(QUESTIONS)]} {('please', 'thanks', 'today', 'asap')[n % 4]} {n}"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench(families: int, messages: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = await start(Settings.from_env({**os.environ, "HOMEROOM_DATA_DIR": tmp, "HOMEROOM_CACHE_DIR": CACHE}))
        status = app.understanding.current.status
        print(f"matcher: {status.backend} {status.model or status.reason}")
        print(f"idle RSS after start-up: {rss_mb():.0f} MB")
        latencies: list[float] = []

        async def family(i: int) -> None:
            for j in range(messages):
                t = time.perf_counter()
                await app.engine.handle(Incoming("bench", f"f{i}", f"f{i}", question(100_000 + i * messages + j)))
                latencies.append((time.perf_counter() - t) * 1000)

        # sequential: latency of one message with nothing else going on
        for i in range(200):
            await app.engine.handle(Incoming("bench", "warm", "warm", QUESTIONS[i % len(QUESTIONS)]))
        for label, text in (("new texts", question), ("the same 10 questions", lambda n: QUESTIONS[n % 10])):
            seq: list[float] = []
            for i in range(300):
                t = time.perf_counter()
                await app.engine.handle(Incoming("bench", f"s{i % 50}", f"s{i % 50}", text(i)))
                seq.append((time.perf_counter() - t) * 1000)
            print(f"sequential, {label}: p50 {statistics.median(seq):.2f} ms  p99 {pct(seq, 99):.2f} ms  "
                  f"({1000 / statistics.mean(seq):.0f} msg/s)")

        t0 = time.perf_counter()
        await asyncio.gather(*(family(i) for i in range(families)))
        wall = time.perf_counter() - t0
        total = families * messages
        print(f"{families} families x {messages} messages concurrently: {total / wall:.0f} msg/s, "
              f"latency p50 {statistics.median(latencies):.2f} ms  p99 {pct(latencies, 99):.2f} ms "
              "(includes waiting for the others)")
        print(f"peak RSS: {rss_mb():.0f} MB")
        await app.close()


def cold_start() -> None:
    times = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "HOMEROOM_DATA_DIR": tmp, "HOMEROOM_CACHE_DIR": CACHE}
            t = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "bot", "chat"], cwd=ROOT, env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            for line in proc.stdout:
                if line.startswith(b"Homeroom:"):
                    break
            times.append(time.perf_counter() - t)
            proc.stdin.close()
            proc.wait()
    print(f"cold start of `homeroom chat` to first reply: best {min(times):.2f} s, "
          f"median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", type=int, default=200)
    ap.add_argument("--messages", type=int, default=10)
    args = ap.parse_args()
    asyncio.run(bench(args.families, args.messages))
    cold_start()
