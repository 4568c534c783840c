"""Hand-off benchmark: tickets through the engine, the outbox and the Slack sender to the local mock
Slack Web API (real slack_sdk client, real SQLite store, FakeTranslator). Prints figures, asserts
nothing.

1. Latency: `--tickets` families hand off (`/human`) and write `--messages - 1` more messages each,
   concurrently, with the outbox worker running: time from a parent message entering the engine
   to its `chat.postMessage` reaching the mock (p50/p99; per-channel pacing off).
2. Throughput: the same load written with the worker stopped, then drained: outbox rows/s.
3. Outage: Slack answers 503 to everything for `--outage` seconds while families keep writing;
   then it comes back: how long until the outbox is empty, how many requests the outage cost,
   and whether every message arrived exactly once.

    .venv/bin/python tests/bench/handoff.py [--tickets 200] [--messages 5] [--outage 60]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bot.app import start  # noqa: E402
from bot.channels.slack import SlackStaff  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.messages import Incoming  # noqa: E402
from bot.storage import outbox  # noqa: E402
from bot.translation import FakeTranslator  # noqa: E402
from fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, MockSlackAPI  # noqa: E402

SLACK_TABLE = """
[slack]
default_channel = "CTRIAGE"
urgent_channel = "CURGENT"
urgent_mention = "<!subteam^SADMINS>"
"""
MARK = re.compile(r"\b(b\d+f\d+m\d+)\b")
FAMILY = re.compile(r"from Family (b\d+f\d+):")


class TimedMock(MockSlackAPI):
    """The mock, also noting when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str, dict, int]] = []

    def _record(self, method, params, status):
        self.arrivals.append((time.perf_counter(), method, params, status))
        super()._record(method, params, status)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


async def families(app, batch: str, count: int, messages: int, sent_at: dict[str, float],
                   concurrency: int = 50, gap: float = 0.0) -> None:
    """`count` families: `/human`, then `messages - 1` marked messages each (half of them in Vietnamese)."""
    gate = asyncio.Semaphore(concurrency)

    async def family(i: int) -> None:
        user = f"{batch}f{i}"
        hint = "vi" if i % 2 else "en"
        async with gate:
            for j in range(messages):
                text = "/human" if j == 0 else f"question {user}m{j} about the bus schedule"
                key = f"{user}m{j}"
                sent_at[key] = time.perf_counter()
                await app.engine.handle(Incoming("bench", user, user, text, display_name=f"Family {user}",
                                                 language_hint=hint))
                if gap:
                    await asyncio.sleep(gap)

    await asyncio.gather(*(family(i) for i in range(count)))


def key_of(params: dict) -> str | None:
    text = str(params.get("text") or "")
    found = MARK.search(text)
    if found:
        return found.group(1)
    family = FAMILY.search(text)
    return f"{family.group(1)}m0" if family else None


async def pending(app) -> int:
    return (await app.db.run(outbox.depth))[0]


async def bench(tickets: int, messages: int, outage: float) -> None:
    async with TimedMock() as mock:
        with tempfile.TemporaryDirectory() as tmp:
            profile = Path(tmp) / "school.toml"
            profile.write_text((ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8") + SLACK_TABLE,
                               encoding="utf-8")
            settings = Settings.from_env({"HOMEROOM_DATA_DIR": tmp, "HOMEROOM_SCHOOL_PROFILE": str(profile),
                                          "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                          "SLACK_API_URL": mock.base_url})
            app = await start(settings, translator=FakeTranslator(languages=["en", "vi"]))
            slack = SlackStaff(settings, app, pace=0)

            async def parent(item):  # families' outbox rows (none in this load): accepted
                return None
            app.delivery.register("bench", parent)
            app.delivery.poll_interval = 0.2
            try:
                await run_phases(app, slack, mock, tickets, messages, outage)
            finally:
                await slack.close()
                await app.close()


async def run_phases(app, slack, mock: TimedMock, tickets: int, messages: int, outage: float) -> None:
    # -- 0. latency of one message on an idle system (20 families, one message at a time) ---
    stop = asyncio.Event()
    worker = asyncio.ensure_future(app.delivery.run(stop))
    idle: list[float] = []
    for i in range(20):
        for j in range(messages):
            user = f"b0f{i}"
            seen = len(mock.arrivals)
            text = "/human" if j == 0 else f"question {user}m{j}"
            t0 = time.perf_counter()
            await app.engine.handle(Incoming("bench", user, user, text, display_name=f"Family {user}"))
            while not any(a[1] == "chat.postMessage" for a in mock.arrivals[seen:]):
                await asyncio.sleep(0.0005)
            idle.append((next(a[0] for a in mock.arrivals[seen:] if a[1] == "chat.postMessage") - t0) * 1000)
    print(f"idle: parent message -> chat.postMessage: p50 {pct(idle, 50):.1f} ms, p99 {pct(idle, 99):.1f} ms "
          f"({len(idle)} messages one at a time)")

    # -- 1. latency under a burst, worker running --------------------------------------------
    sent_at: dict[str, float] = {}
    started = time.perf_counter()
    await families(app, "b1", tickets, messages, sent_at)
    while await pending(app):
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop.set()
    await worker
    latencies = []
    for at, method, params, status in mock.arrivals:
        key = key_of(params) if method == "chat.postMessage" and status == 200 else None
        if key and key.startswith("b1") and key in sent_at:
            latencies.append((at - sent_at[key]) * 1000)
    total = tickets * messages
    print(f"load: {tickets} tickets x {messages} messages = {total} parent messages -> {len(latencies)} posts "
          f"in {elapsed:.1f} s")
    print(f"burst: parent message -> chat.postMessage: p50 {pct(latencies, 50):.1f} ms, "
          f"p99 {pct(latencies, 99):.1f} ms, max {max(latencies):.1f} ms (pacing off; includes the queue)")

    # -- 2. throughput: write the load with the worker stopped, then drain --------------------
    await families(app, "b2", tickets, messages, {})
    rows = await pending(app)
    started = time.perf_counter()
    delivered = 0
    while await pending(app):
        delivered += await app.delivery.run_once()
    drained = time.perf_counter() - started
    print(f"outbox throughput: {delivered} rows in {drained:.2f} s = {delivered / drained:.0f} rows/s "
          f"({rows} were pending)")

    # -- 3. outage ----------------------------------------------------------------------------
    before = len(mock.arrivals)
    stop = asyncio.Event()
    worker = asyncio.ensure_future(app.delivery.run(stop))
    mock.outage(True)
    outage_started = time.perf_counter()
    load = asyncio.ensure_future(families(app, "b3", max(1, tickets // 4), 2, {}, gap=outage / 4))
    await asyncio.sleep(outage)
    await load
    waiting = await pending(app)
    mock.outage(False)
    back = time.perf_counter()
    while await pending(app):
        await asyncio.sleep(0.05)
    recovered = time.perf_counter() - back
    stop.set()
    await worker
    during = [a for a in mock.arrivals[before:] if a[0] < back]
    after = [a for a in mock.arrivals[before:] if a[0] >= back]
    keys = Counter(key_of(a[2]) for a in after if a[1] == "chat.postMessage" and a[3] == 200)
    expected = max(1, tickets // 4) * 2
    dead = await app.db.run(lambda c: c.execute("SELECT COUNT(*) FROM outbox WHERE status = 'dead'").fetchone()[0])
    attempts = await app.db.run(lambda c: c.execute(
        "SELECT MAX(attempts) FROM outbox WHERE channel = 'staff'").fetchone()[0])
    print(f"outage: {time.perf_counter() - outage_started - recovered:.0f} s of HTTP 503, {waiting} rows waiting, "
          f"{len(during)} requests during the outage ({sum(1 for a in during if a[1] == 'auth.test')} of them health probes)")
    print(f"recovery: outbox empty {recovered:.2f} s after Slack came back; {sum(keys.values())} posts, "
          f"{len(keys)} distinct of {expected} expected, duplicates {sum(v - 1 for v in keys.values() if v > 1)}, "
          f"dead rows {dead}, max attempts of a row {attempts}")


def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)  # the outage's retry warnings would drown the figures
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds of simulated Slack outage")
    args = parser.parse_args()
    asyncio.run(bench(args.tickets, args.messages, args.outage))


if __name__ == "__main__":
    main()
