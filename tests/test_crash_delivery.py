"""Delivery survives `kill -9`: the real `homeroom run` in a subprocess against the fake Bot
API, killed with SIGKILL in the middle of a burst, then started again. Every question is
answered exactly once, in order per parent.

The kill lands while the bot's sends hang at the fake (`FakeBotAPI.hold`): replies Telegram
already confirmed are behind it, replies still paced or queued ahead of it. The one duplicate
no bot can prevent — a crash between Telegram's "ok" and the bot writing it down — is left out
on purpose (README, "Delivery guarantees")."""

from __future__ import annotations

import asyncio
import html
import signal

from conftest import PYTHON, ROOT, cli_env
from fakes.telegram_api import DEFAULT_TOKEN, FakeBotAPI

# each question, and a phrase only its answer contains (the sample school's catalog)
QUESTIONS = (("What time does school start?", "Classes start at 8:10"),
             ("What is for lunch today?", "menus for Maple Grove"),
             ("When is winter break?", "The first day of school is"),
             ("How do I report an absence?", "report the absence before 8:20"))
PARENTS = tuple(range(7001, 7006))


def answered(fake: FakeBotAPI, parent: int) -> list[str]:
    """The questions this parent's chat got answers to, in the order they arrived."""
    out = []
    for params in fake.sent(parent):
        text = html.unescape(params.get("text") or "")
        out += [q for q, phrase in QUESTIONS if phrase in text]
    return out


async def wait_until(check, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def start_bot(env):
    return await asyncio.create_subprocess_exec(PYTHON, "-m", "bot", "run", cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)


async def test_sigkill_in_a_burst_loses_nothing_and_repeats_nothing(tmp_path):
    async with FakeBotAPI(token=DEFAULT_TOKEN) as fake:
        for question, _ in QUESTIONS:  # five parents, four questions each, all at once
            for parent in PARENTS:
                fake.push_update(fake.message_update(question, user_id=parent, first_name=f"P{parent}"))
        env = cli_env(tmp_path, TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN, TELEGRAM_API_BASE_URL=fake.base_url,
                      TELEGRAM_API_FILE_URL=fake.base_file_url)
        total = len(PARENTS) * len(QUESTIONS)
        proc = await start_bot(env)
        try:
            await fake.wait_for("sendMessage", count=total // 3, timeout=90)
            fake.hold("sendMessage")               # the next sends hang, as on a dying network
            await wait_until(lambda: fake.held_calls > 0, 30, "a send to hang")
            await asyncio.sleep(1.0)                # what Telegram confirmed is written down by now
            before = sum(len(answered(fake, p)) for p in PARENTS)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        fake.drop("sendMessage")
        assert 0 < before < total, f"the kill should land mid-burst ({before} of {total} answered)"

        proc = await start_bot(env)                 # the restart
        try:
            await wait_until(lambda: sum(len(answered(fake, p)) for p in PARENTS) >= total, 90,
                             "every question to be answered")
            await asyncio.sleep(1.5)                # a duplicate would arrive now
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        expected = [q for q, _ in QUESTIONS]
        for parent in PARENTS:
            assert answered(fake, parent) == expected, f"parent {parent}: {answered(fake, parent)}"

