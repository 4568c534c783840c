"""`homeroom chat` driven for real in a subprocess, through stdin and stdout."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest

from conftest import PYTHON, ROOT, cli_env


def chat(tmp_path, data: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "bot", "chat", *args], input=data, capture_output=True,
                          cwd=ROOT, env=cli_env(tmp_path), timeout=60)


def test_hello_pick_by_number_and_eof_exits_cleanly(tmp_path):
    proc = chat(tmp_path, b"hello\n2\n")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.count("welcome to Maple Grove") >= 2  # /start on open, then "hello"
    assert "2) School hours" in out
    assert "8:10 AM" in out  # picking 2 answered the school-hours choice
    assert "Traceback" not in proc.stderr.decode()


def test_quit_exits_zero(tmp_path):
    proc = chat(tmp_path, b"quit\nhello\n")
    assert proc.returncode == 0
    assert proc.stdout.decode().count("welcome to Maple Grove") == 1


@pytest.mark.parametrize("line", [
    b"\n",
    b"   \n",
    b"x" * 10_000 + b"\n",
    b"bus\x00\x07\x1b[31m late?\n",
    b"\xff\xfe\xc3 bus\n",  # invalid UTF-8
    b"<script>alert(1)</script>'; DROP TABLE families; --\n",
], ids=["empty", "spaces", "10k", "control", "bad-utf8", "junk"])
def test_bad_input_gets_a_reply_never_a_traceback(tmp_path, line):
    proc = chat(tmp_path, line + b"when does school start\n")
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "something went wrong" not in out
    assert out.count("Homeroom:") >= 3  # welcome, a reply to the bad line, the answer
    assert "8:10 AM" in out


def test_state_persists_between_runs(tmp_path):
    first = chat(tmp_path, "/language\nEspañol\n".encode(), "--user", "ana")
    assert first.returncode == 0
    second = chat(tmp_path, b"", "--user", "ana")
    assert second.returncode == 0
    con = sqlite3.connect(tmp_path / "data" / "homeroom.sqlite3")
    rows = con.execute("SELECT channel_user_id, language, language_source FROM families").fetchall()
    visits = con.execute("SELECT COUNT(*) FROM messages WHERE direction = 'in'").fetchone()[0]
    con.close()
    assert rows == [("ana", "es", "explicit")]  # one family across both runs, its choice kept
    assert visits == 4  # /start, /language, Español; then the second run's /start


def test_files_the_bot_sends_are_saved_where_the_parent_can_open_them(tmp_path):
    import json

    proc = chat(tmp_path, b"/mydata\n/mydata\n")
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "data" / "downloads"
    saved = sorted(p.name for p in folder.iterdir())
    assert saved == ["my-data-2.json", "my-data.json"]  # a second copy never overwrites the first
    assert f"[attachment: {folder / 'my-data.json'}]" in proc.stdout.decode()
    assert json.loads((folder / "my-data.json").read_text(encoding="utf-8"))["family"]["channel"] == "terminal"
