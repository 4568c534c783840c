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


def test_no_log_lines_in_the_chat_and_the_log_goes_to_a_file(tmp_path):
    proc = chat(tmp_path, b"hello\nwhen does school start\n")
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err
    log = tmp_path / "data" / "homeroom-chat.log"
    assert out.count(f"The bot's log is written to {log}") == 1  # said once, at the start
    for text in (out, err):
        assert "level=INFO" not in text and "db.migrated" not in text and "message.handled" not in text
    written = log.read_text(encoding="utf-8")
    assert "db.migrated" in written and written.count("message.handled") == 3  # /start and two questions
    # a warning (no staff channel in a bare terminal chat) gets one line in the chat, not the record
    assert f"(warning logged: staff.no_channel; see {log})" in out and "neither Slack nor email" not in out


def test_a_number_picks_only_from_the_latest_message_with_options(tmp_path):
    """After "thank you!" (an answer without options) a typed "1" is text, not the first option
    of an older message; numbers run on across one answer's messages."""
    proc = chat(tmp_path, b"thank you\n1\n")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert "You're welcome" in out
    after = out.split("You're welcome", 1)[1]
    assert "didn't understand" in after and "Report an absence" not in after.split("Sorry", 1)[0]


# -- a real terminal: the chat under a pseudo-terminal, as a parent sees it -----------------

def _own_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is the pty (Ctrl-C -> SIGINT)."""
    import fcntl
    import os
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Pty:
    """`homeroom chat` on a pseudo-terminal (so it prompts, and Ctrl-C is a real SIGINT)."""

    def __init__(self, tmp_path):
        import os
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([PYTHON, "-m", "bot", "chat", "--user", "pat"], stdin=slave, stdout=slave,
                                     stderr=slave, cwd=ROOT, env=cli_env(tmp_path), preexec_fn=_own_terminal)
        os.close(slave)
        self.out = b""

    def read_until(self, needle: bytes, timeout: float = 90) -> bytes:
        import os
        import select
        import time

        deadline = time.monotonic() + timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {needle!r} in:\n{self.out.decode(errors='replace')}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the chat ended
                    chunk = b""
                if not chunk:
                    assert needle in self.out, f"ended without {needle!r}:\n{self.out.decode(errors='replace')}"
                self.out += chunk
        return self.out

    def type(self, data: bytes) -> None:
        import os

        os.write(self.master, data)

    def wait(self) -> int:
        import os

        try:
            return self.proc.wait(timeout=30)
        finally:
            os.close(self.master)


@pytest.fixture
def term(tmp_path):
    term = Pty(tmp_path)
    yield term
    if term.proc.poll() is None:  # a test that failed midway leaves no chat running
        term.proc.kill()
        term.proc.wait()


def test_ctrl_c_at_the_prompt_ends_the_chat_at_once(term):
    term.read_until(b"\r\n> ")
    term.type(b"\x03")  # Ctrl-C: no Enter needed afterwards
    assert term.wait() == 0
    assert b"Traceback" not in term.out and b"KeyboardInterrupt" not in term.out


def test_ctrl_d_at_the_prompt_ends_the_chat(term):
    term.read_until(b"\r\n> ")
    term.type(b"\x04")
    assert term.wait() == 0
    assert b"Traceback" not in term.out


def test_a_staff_reply_at_the_prompt_comes_on_its_own_line_with_a_new_prompt(term, tmp_path):
    term.read_until(b"\r\n> ")
    term.type(b"/human\n")
    term.read_until(b"passed your message")
    term.read_until(b"\r\n> ")
    reply = subprocess.run([PYTHON, "-m", "bot", "tickets", "reply", "1", "We", "will", "call", "you."],
                           capture_output=True, cwd=ROOT, env=cli_env(tmp_path), timeout=60)
    assert reply.returncode == 0, reply.stderr.decode()
    out = term.read_until(b"We will call you.\r\n> ")
    assert b"> \r\nSchool staff: We will call you.\r\n> " in out  # not glued to the old prompt
    term.type(b"\x03")
    assert term.wait() == 0


# -- in-process: the terminal chat's own input and output over the real engine -----------------

async def test_my_signups_numbers_only_the_options_and_a_move_keeps_the_name(app):
    """/mysignups marks its items A, B… so "1" can only mean the first option (Change A); moving
    the shift then goes straight to the check, with the name given before."""
    import io
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.channels.terminal import TerminalChat

    app.engine.clock = lambda: datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo(app.profile.timezone))
    typed = ["/volunteer winter-book-fair", "1", "Pat Lee", "1",  # the first time, a name, Confirm
             "/mysignups", "1", "2"]                         # Change A, then another time
    out = io.StringIO()
    chat = TerminalChat(app.engine, app.profile.name, io.BytesIO("\n".join(typed).encode() + b"\n"), out,
                        "pat", None)
    assert await chat.run() == 0
    text = out.getvalue()
    assert "Your sign-ups:" in text, text
    listing = text.split("Your sign-ups:", 1)[1]
    assert "A. Winter Book Fair helper: Mon, Dec 7, 7:45 AM" in listing and "1. Winter" not in listing
    assert "  1) Change A\n  2) Cancel A\n" in listing
    moved = listing.split("Pick a new time for Winter Book Fair helper", 1)[1]
    assert "Please check your sign-up" in moved and "👤 Pat Lee" in moved and "This replaces your sign-up" in moved
    assert "What name should we put on the list" not in moved


def test_numbers_run_on_across_one_answer_and_a_message_without_options_ends_them():
    import io

    from bot.channels.terminal import TerminalChat
    from bot.core.messages import Choice, Outgoing

    out = io.StringIO()
    chat = TerminalChat(None, "School", io.BytesIO(), out, "pat", None)  # type: ignore[arg-type]
    chat.show([Outgoing("terminal", "pat", "Answer", (Choice("Bus", "intent:bus"), Choice("Menu", "menu"))),
               Outgoing("terminal", "pat", "Spanish?", (Choice("Yes", "lang:es"),))])
    assert "  1) Bus\n  2) Menu\nHomeroom: Spanish?\n  3) Yes" in out.getvalue()
    assert [c.payload for c in chat.choices] == ["intent:bus", "menu", "lang:es"]
    chat.show([Outgoing("terminal", "pat", "We will call you.")], "School staff")
    assert chat.choices == []  # a "1" typed now is words for the school, not "Bus"


def test_the_staff_label_is_curated_in_the_family_language(tmp_path):
    import io
    from pathlib import Path

    from bot.channels.terminal import STAFF, TerminalChat
    from bot.core.messages import Outgoing
    from bot.i18n import Locales

    engine = type("E", (), {"locales": Locales(Path(__file__).resolve().parents[1] / "locales")})()
    out = io.StringIO()
    chat = TerminalChat(engine, "School", io.BytesIO(), out, "pat", None)  # type: ignore[arg-type]
    chat.show([Outgoing("terminal", "pat", "Llamaremos.", language="es")], STAFF)
    assert out.getvalue().startswith("Personal de la escuela: Llamaremos.")
