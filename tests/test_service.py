"""`homeroom run` as a district runs it (a real subprocess against the fake Bot API): health
endpoint, pid file (a second bot on the same data is refused), reload on `homeroom reload`,
a nightly backup taken at start, and a clean stop on SIGTERM (polling stops, updates in flight
finish, the store closes) that removes the pid file."""

from __future__ import annotations

import asyncio
import json
import signal
import socket

import aiohttp

from conftest import PYTHON, ROOT, cli_env
from fakes.telegram_api import DEFAULT_TOKEN, FakeBotAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_cli(env, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(PYTHON, "-m", "bot", *args, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def get_health(port: int) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
            return resp.status, await resp.json()


async def test_homeroom_run_health_pidfile_reload_backup_and_stop(tmp_path):
    port = free_port()
    async with FakeBotAPI(token=DEFAULT_TOKEN) as fake:
        fake.push_update(fake.message_update("/start"))
        env = cli_env(tmp_path, TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN, TELEGRAM_API_BASE_URL=fake.base_url,
                      TELEGRAM_API_FILE_URL=fake.base_file_url, HOMEROOM_HEALTH_LISTEN=f"127.0.0.1:{port}")
        data = tmp_path / "data"
        proc = await asyncio.create_subprocess_exec(PYTHON, "-m", "bot", "run", cwd=ROOT, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await fake.wait_for("sendMessage", timeout=30)
            for _ in range(100):  # the health server starts beside the channel
                try:
                    status, body = await get_health(port)
                    if body.get("channels", {}).get("telegram"):
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            assert status == 200 and body["status"] == "green", body
            assert "telegram" in json.dumps(body["channels"])
            assert (data / "homeroom.pid").read_text().split()[0] == str(proc.pid)
            assert list((data / "backups").glob("homeroom-*.sqlite3"))  # one taken at start
            # a second bot on the same data directory is refused
            code, _, err = await run_cli(env, "run")
            assert code == 2 and "another Homeroom bot is running" in err
            # reload reaches the running bot
            code, out, err = await run_cli(env, "reload")
            assert code == 0, out + err
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert "reload.done" in log and "service.stopped" in log
    assert "telegram.stopping reason=signal" in log and "telegram.stopped" in log
    assert DEFAULT_TOKEN not in log  # never a token in the logs
    assert not (data / "homeroom.pid").exists()


async def test_an_unreachable_bot_api_is_named_and_the_bot_stops_cleanly(tmp_path):
    """No Bot API at the configured address: the IT person reads which address and what to check,
    and the process exits non-zero after a clean stop (not a python-telegram-bot traceback)."""
    env = cli_env(tmp_path, TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
                  TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{free_port()}/bot")
    code, out, err = await run_cli(env, "run")
    assert code == 1, out + err
    assert "cannot reach the Telegram Bot API at http://127.0.0.1:" in err
    assert "check the network or TELEGRAM_API_BASE_URL" in err
    assert "Traceback" not in err and "service.stopped" in err
