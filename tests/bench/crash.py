"""Crash benchmark: how often does kill -9 cost a parent an answer, a repeat, or the order?

Each run starts the real `homeroom run` (a subprocess) against the fake Bot API with P parents
x Q questions pushed at once, kills it with SIGKILL right after a random number of replies
were confirmed by the fake, starts it again, and counts per parent: answers missing, answers
twice, answers out of order. Unlike tests/test_crash_delivery.py the kill is not kept out of
the HTTP call, so this measures the one window no bot can close (Telegram said ok, the bot had
not written it down yet) as it happens. Prints; asserts nothing.

    .venv/bin/python tests/bench/crash.py [--runs 20] [--parents 5] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import cli_env  # noqa: E402
from fakes.telegram_api import DEFAULT_TOKEN, FakeBotAPI  # noqa: E402
from test_crash_delivery import QUESTIONS as FOUR, answered, kill_bot, start_bot, stop_bot, wait_until  # noqa: E402

# ten questions, each with a phrase only its answer has (the sample school's catalog)
QUESTIONS = FOUR + (("Which bus does my child take?", "Bus routes, stop locations"),
                    ("How do I put money on the lunch account?", "Lunch costs"),
                    ("Is there a dress code?", "uniforms are not required"),
                    ("When is picture day?", "open house, curriculum night"),
                    ("How do I sign up for after school care?", "after-school program"),
                    ("Who is the principal?", "reach the Maple Grove front office"))


async def one_run(parents: int, kill_after: int, workdir: Path) -> dict[str, int]:
    ids = list(range(8001, 8001 + parents))
    async with FakeBotAPI(token=DEFAULT_TOKEN) as fake:
        for question, _ in QUESTIONS:
            for parent in ids:
                fake.push_update(fake.message_update(question, user_id=parent, first_name=f"P{parent}"))
        env = cli_env(workdir, TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN, TELEGRAM_API_BASE_URL=fake.base_url,
                      TELEGRAM_API_FILE_URL=fake.base_file_url)
        proc = await start_bot(env)
        try:
            await fake.wait_for("sendMessage", count=kill_after, timeout=120)
            await kill_bot(proc)               # SIGKILL: no clean-up of any kind
        finally:
            await kill_bot(proc)
        total = parents * len(QUESTIONS)
        proc = await start_bot(env)
        try:
            try:
                await wait_until(lambda: len({(p, q) for p in ids for q in answered(fake, p, QUESTIONS)}) >= total,
                                 120, "every answer")
            except AssertionError:
                pass  # counted as missing below
            await asyncio.sleep(2.0)  # late duplicates
        finally:
            await stop_bot(proc)
        expected = [q for q, _ in QUESTIONS]
        counts = {"missing": 0, "twice": 0, "out_of_order": 0, "most_twice_in_one_chat": 0}
        for parent in ids:
            got = answered(fake, parent, QUESTIONS)
            counts["missing"] += len(set(expected) - set(got))
            counts["twice"] += len(got) - len(set(got))
            counts["most_twice_in_one_chat"] = max(counts["most_twice_in_one_chat"], len(got) - len(set(got)))
            first = list(dict.fromkeys(got))
            counts["out_of_order"] += sum(1 for a, b in zip(first, first[1:]) if expected.index(a) > expected.index(b))
        return counts


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--parents", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    total = args.parents * len(QUESTIONS)
    print(f"{args.runs} runs, {args.parents} parents x {len(QUESTIONS)} questions, SIGKILL after a random "
          f"number of confirmed replies (1..{total - 1})")
    sums = {"missing": 0, "twice": 0, "out_of_order": 0, "most_twice_in_one_chat": 0}
    runs_with = {k: 0 for k in sums}
    for run in range(1, args.runs + 1):
        kill_after = rng.randint(1, total - 1)
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            counts = await one_run(args.parents, kill_after, Path(tmp))
        for key, value in counts.items():
            sums[key] = max(sums[key], value) if key == "most_twice_in_one_chat" else sums[key] + value
            runs_with[key] += bool(value)
        print(f"  run {run:2d}: killed after {kill_after:2d} replies  missing {counts['missing']}  "
              f"twice {counts['twice']} (most in one chat {counts['most_twice_in_one_chat']})  "
              f"out of order {counts['out_of_order']}  ({time.monotonic() - started:.0f} s)")
    print(f"runs with a missing answer: {runs_with['missing']} of {args.runs} ({sums['missing']} answers)")
    print(f"runs with an answer twice:  {runs_with['twice']} of {args.runs} ({sums['twice']} answers)")
    print(f"most answers twice in one chat, in any run: {sums['most_twice_in_one_chat']}")
    print(f"runs with answers out of order: {runs_with['out_of_order']} of {args.runs} ({sums['out_of_order']} pairs)")


if __name__ == "__main__":
    asyncio.run(main())
