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
import json
import signal

import pytest

from conftest import PYTHON, ROOT, cli_env
from fakes.telegram_api import DEFAULT_TOKEN, FakeBotAPI

# each question, and a phrase only its answer contains (the sample school's catalog)
QUESTIONS = (("What time does school start?", "Classes start at 8:10"),
             ("What is for lunch today?", "menus for Maple Grove"),
             ("When is winter break?", "The first day of school is"),
             ("What is the school phone number?", "front office at"))
PARENTS = tuple(range(7001, 7006))


def answered(fake: FakeBotAPI, parent: int, questions=QUESTIONS) -> list[str]:
    """The questions this parent's chat got answers to, in the order they arrived."""
    out = []
    for params in fake.sent(parent):
        text = html.unescape(params.get("text") or "")
        out += [q for q, phrase in questions if phrase in text]
    return out


async def wait_until(check, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def kill_bot(proc) -> None:
    """SIGKILL (proc.kill on POSIX), unless it already ended."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def stop_bot(proc) -> None:
    """SIGTERM (a clean stop), or SIGKILL if it does not stop within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        await kill_bot(proc)


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
            await kill_bot(proc)               # SIGKILL: no clean-up of any kind
        finally:
            await kill_bot(proc)
        fake.drop("sendMessage")
        assert 0 < before < total, f"the kill should land mid-burst ({before} of {total} answered)"

        proc = await start_bot(env)                 # the restart
        try:
            await wait_until(lambda: sum(len(answered(fake, p)) for p in PARENTS) >= total, 90,
                             "every question to be answered")
            await asyncio.sleep(1.5)                # a duplicate would arrive now
        finally:
            await stop_bot(proc)
        expected = [q for q, _ in QUESTIONS]
        for parent in PARENTS:
            assert answered(fake, parent) == expected, f"parent {parent}: {answered(fake, parent)}"


@pytest.mark.parametrize("staff_does", ["reply", "claim"])
async def test_what_staff_do_in_slack_survives_sigkill_after_slack_got_its_ack(tmp_path, staff_does):
    """Socket Mode: bolt acks the staff reply (or the click on Claim), then asks Slack who may
    act; the bot is killed while that call hangs. Slack never resends an acknowledged event, so
    only the bot's own record can bring the reply to the family — once — or claim the ticket,
    after the restart."""
    from fakes.slack_api import APP_TOKEN, BOT_TOKEN, MockSlackAPI
    from test_slack import SLACK_TABLE, STAFF, TRIAGE
    from test_slack_socket_mode import thread_reply

    profile = tmp_path / "school.toml"
    profile.write_text((ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8") + SLACK_TABLE,
                       encoding="utf-8")
    async with FakeBotAPI(token=DEFAULT_TOKEN) as fake, MockSlackAPI() as mock:
        mock.set_members(TRIAGE, [STAFF])
        env = cli_env(tmp_path, TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN, TELEGRAM_API_BASE_URL=fake.base_url,
                      TELEGRAM_API_FILE_URL=fake.base_file_url, SLACK_BOT_TOKEN=BOT_TOKEN,
                      SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=mock.base_url,
                      HOMEROOM_SCHOOL_PROFILE=str(profile))
        fake.push_update(fake.message_update("/human", first_name="Ana"))
        proc = await start_bot(env)
        try:
            await wait_until(lambda: any(ch == TRIAGE and "thread_ts" not in m for (ch, _), m in mock.messages.items()),
                             90, "the ticket in Slack")
            [ts] = [ts for (ch, ts), m in mock.messages.items() if ch == TRIAGE and "thread_ts" not in m]
            asked, release = asyncio.Event(), asyncio.Event()

            async def hang(params):  # "who may act?" never answers in this run
                asked.set()
                await release.wait()
                return {"ok": True, "members": [STAFF], "response_metadata": {"next_cursor": ""}}
            mock.set_response("conversations.members", hang)
            if staff_does == "reply":
                ticket = type("T", (), {"staff_ref": f"{TRIAGE}:{ts}"})()
                envelope = await mock.push_event(thread_reply(ticket, STAFF, "We will call you at 3 pm."),
                                                 event_id="Ev0KILLED01")
            else:
                envelope = await mock.push_action("homeroom_claim", "1", STAFF, TRIAGE, ts)
            await mock.wait_for_ack(envelope, timeout=30)
            await asyncio.wait_for(asked.wait(), 30)
            await kill_bot(proc)               # SIGKILL: no clean-up of any kind
        finally:
            await kill_bot(proc)
        release.set()
        mock.set_response("conversations.members", None)

        def relayed() -> list[str]:
            return [p["text"] for p in fake.sent() if "call you at 3 pm" in html.unescape(p.get("text") or "")]

        def card() -> str:
            return json.dumps(mock.messages[(TRIAGE, ts)])

        proc = await start_bot(env)  # Slack will not send the event again: the bot's record must
        try:
            if staff_does == "reply":
                await wait_until(lambda: relayed(), 90, "the staff reply at the family")
                await wait_until(lambda: "Delivered to the family" in json.dumps(list(mock.messages.values())),
                                 30, "'Delivered' in the thread")
                await asyncio.sleep(1.5)  # a duplicate would arrive now
            else:
                await wait_until(lambda: f"Claimed by <@{STAFF}>" in card(), 90, "the card showing the claim")
        finally:
            await stop_bot(proc)
        if staff_does == "reply":
            assert len(relayed()) == 1
