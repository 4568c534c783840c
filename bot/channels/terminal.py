"""Terminal chat: talk to the bot as a parent, from a shell. Choices are numbered; type the number.

Reads raw bytes from stdin so invalid UTF-8 becomes replacement characters instead of a
traceback; EOF (Ctrl-D), Ctrl-C or "quit" ends the chat at once with exit code 0. The log goes
to a file (`homeroom chat` says where), not between the messages. Staff replies (from
`homeroom tickets reply` in another shell) arrive through the outbox while you chat.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from bot.core.engine import Engine
from bot.core.messages import Attachment, Choice, Incoming, Outgoing
from bot.delivery import Delivery
from bot.i18n import N_
from bot.outbox_messages import FamilyMessage, to_family
from bot.storage.outbox import Item
from bot.understanding.language import RTL_LANGUAGES

STAFF = N_("School staff")  # who wrote a staff reply, in the family's language ("Homeroom" is a name)

QUIT_WORDS = {"quit", "exit", "/quit", "/exit", "salir"}


def _isolate(text: str, rtl: bool) -> str:
    """Right-to-left text goes inside Unicode isolates (RLI … PDI), line by line, so our
    left-to-right prefixes and numbering don't reorder it and it doesn't reorder them."""
    if not rtl:
        return text
    return "\n".join(f"\u2067{line}\u2069" if line else line for line in text.split("\n"))


def render(reply: Outgoing, speaker: str = "Homeroom", saved: Path | None = None, first: int = 1) -> str:
    """One message; its options numbered from `first`."""
    rtl = reply.language in RTL_LANGUAGES
    lines = [f"{speaker}: {_isolate(reply.text, rtl)}"]
    for number, choice in enumerate(reply.choices, first):
        lines.append(f"  {number}) {_isolate(choice.label, rtl)}")
    if reply.attachment:
        lines.append(f"  [attachment: {saved or reply.attachment.filename}]")
    return "\n".join(lines)


def save_attachment(folder: Path, attachment: Attachment) -> Path:
    """Where a terminal parent finds a file the bot sent (a calendar file, my-data.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(attachment.filename).name or "file"
    path, n = folder / name, 1
    while path.exists():
        n += 1
        path = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
    path.write_bytes(attachment.content)
    return path


class _Lines:
    """stdin's lines, read on a daemon thread straight from the file descriptor: a read that is
    still waiting for the parent never holds up the end of the chat (Ctrl-C needs no Enter
    after it), and no lock of `sys.stdin` is held when the interpreter exits."""

    def __init__(self, stream: BinaryIO, loop: asyncio.AbstractEventLoop) -> None:
        self.stream, self.loop = stream, loop
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        threading.Thread(target=self._read, name="terminal-stdin", daemon=True).start()

    def _read(self) -> None:
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):  # e.g. BytesIO: read it as a stream
            fd = None
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536) if fd is not None else self.stream.readline()
            except (OSError, ValueError):
                chunk = b""
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop() if chunk else b""
            out = [line + b"\n" for line in lines if chunk or line] + ([] if chunk else [b""])
            try:
                for line in out:
                    self.loop.call_soon_threadsafe(self.queue.put_nowait, line)
            except RuntimeError:  # the chat is over and its loop closed
                return
            if not chunk:
                return

    async def next(self) -> bytes:
        """The next line (with its newline), or b"" at the end of input."""
        return await self.queue.get()


class TerminalChat:
    def __init__(self, engine: Engine, school_name: str, stdin: BinaryIO, stdout: TextIO, user: str,
                 language: str | None, downloads: Path | None = None, log_path: Path | None = None) -> None:
        self.engine, self.school_name, self.downloads = engine, school_name, downloads
        self.stdin, self.stdout, self.user, self.language = stdin, stdout, user, language
        self.log_path = log_path
        self.choices: list[Choice] = []  # the options last shown, to pick by number
        self.counter = 0
        self.at_prompt = False  # "> " is on screen, waiting for the parent
        self.early_notices: list[str] = []  # logged while starting up, said after the first line
        self.interactive = hasattr(stdin, "isatty") and stdin.isatty()

    def _print(self, text: str) -> None:
        """Print a block. While the parent is at "> ", it goes on its own line and the prompt
        is shown again under it (a staff reply, a log notice arriving while they type)."""
        if self.at_prompt:
            print(file=self.stdout)
        print(text, file=self.stdout)
        if self.at_prompt:
            print("> ", end="", file=self.stdout)
        self.stdout.flush()

    def notice(self, text: str) -> None:
        """One line about the chat itself (not from the school), e.g. where an error was logged."""
        self._print(f"({text})")

    def show(self, replies: list[Outgoing], speaker: str = "Homeroom") -> None:
        """Print what the bot (or staff) said. A typed number picks only among the options of
        what was said last (one answer's messages, numbered on from one to the next), so an
        older message's "1" never answers for a newer one, and after a message with no options
        a number is just text."""
        choices: list[Choice] = []
        blocks = []
        for reply in replies:
            saved = save_attachment(self.downloads, reply.attachment) \
                if reply.attachment and self.downloads is not None else None
            label = self._speaker(speaker, reply.language)
            blocks.append(render(reply, label, saved, first=len(choices) + 1))
            choices += reply.choices
        self.choices = choices
        if blocks:
            self._print("\n".join(blocks))

    def _speaker(self, speaker: str, lang: str) -> str:
        """The speaker's label in the reply's language (curated), else as given."""
        if lang == "en" or self.engine is None:
            return speaker
        return self.engine.locales.lookup(lang, speaker) or speaker

    async def deliver(self, item: Item) -> None:
        """An outbox message for this parent (a staff reply or a notice)."""
        staff = isinstance(item.message, FamilyMessage) and item.message.sender == "staff"
        self.show([to_family(item.message, "terminal", self.user)], STAFF if staff else "Homeroom")

    async def send(self, text: str, payload: str | None = None) -> None:
        self.counter += 1
        self.show(await self.engine.handle(Incoming("terminal", self.user, self.user, text, payload=payload,
                                                    language_hint=self.language,
                                                    message_id=str(self.counter))))

    async def run(self) -> int:
        """Chat until "quit", the end of input (Ctrl-D) or Ctrl-C; each ends at once, with 0."""
        loop = asyncio.get_running_loop()
        lines = _Lines(self.stdin, loop)
        interrupted = asyncio.Event()
        on_sigint = _catch_sigint(loop, interrupted.set)
        print(f"Chatting with {self.school_name} as a parent. Type a question, a number to pick an "
              "option, or 'quit'.", file=self.stdout)
        if self.log_path is not None:
            print(f"(The bot's log is written to {self.log_path}.)", file=self.stdout)
        for line in self.early_notices:
            print(f"({line})", file=self.stdout)
        try:
            await self.send("/start")
            while True:
                if self.interactive:
                    print("> ", end="", file=self.stdout, flush=True)
                    self.at_prompt = True
                raw = await _first(lines.next(), interrupted.wait())
                self.at_prompt = False
                if raw is None or not raw:  # Ctrl-C, or Ctrl-D / the end of the input
                    if self.interactive:
                        print(file=self.stdout, flush=True)  # the shell's prompt on a line of its own
                    return 0
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if text.strip().lower() in QUIT_WORDS:
                    return 0
                stripped = text.strip()
                if stripped.isdigit() and 1 <= int(stripped) <= len(self.choices):
                    picked = self.choices[int(stripped) - 1]
                    await self.send(picked.label, picked.payload)
                else:
                    await self.send(text)
        finally:
            self.at_prompt = False
            if on_sigint:
                loop.remove_signal_handler(signal.SIGINT)


async def _first(line: Awaitable[bytes], interrupted: Awaitable[object]) -> bytes | None:
    """The next line, or None if Ctrl-C came first."""
    tasks = [asyncio.ensure_future(line), asyncio.ensure_future(interrupted)]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return tasks[0].result() if tasks[0] in done else None


def _catch_sigint(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> bool:
    """Ctrl-C ends the chat like Ctrl-D, instead of interrupting whatever runs (where the signal
    can be caught: the main thread, not Windows)."""
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
        return True
    except (NotImplementedError, RuntimeError, ValueError):
        return False


class ChatLogNotices(logging.Handler):
    """In the terminal chat the log goes to a file; a warning or error also gets one line in
    the chat saying so (each error, each kind of warning once), so it is not missed."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.WARNING)
        self.path = path
        self.chat: TerminalChat | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.seen: set[str] = set()
        self.early: list[str] = []  # before the chat starts (while the bot starts up)
        self.seen_chat = False

    def attach(self, chat: TerminalChat | None, loop: asyncio.AbstractEventLoop | None) -> None:
        self.chat, self.loop = chat, loop
        self.seen_chat = self.seen_chat or chat is not None
        if chat is not None:
            chat.early_notices, self.early = self.early, []

    def emit(self, record: logging.LogRecord) -> None:
        event = record.getMessage().split(" ", 1)[0].rstrip(":")
        if record.levelno < logging.ERROR:
            if event in self.seen:
                return
            self.seen.add(event)
        line = f"{record.levelname.lower()} logged: {event}; see {self.path}"
        chat, loop = self.chat, self.loop
        try:
            if chat is None and loop is None and not self.seen_chat:
                self.early.append(line)
            elif chat is None or loop is None or loop.is_closed():
                print(f"({line})", file=sys.stderr)
            elif _in_loop(loop):
                chat.notice(line)
            else:  # from a worker thread (the database, the matcher)
                loop.call_soon_threadsafe(chat.notice, line)
        except Exception:  # a log notice must never break what logged it
            self.handleError(record)


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


async def run_terminal(engine: Engine, school_name: str, stdin: BinaryIO | None = None,
                       stdout: TextIO | None = None, user: str | None = None,
                       language: str | None = None, delivery: Delivery | None = None,
                       staff_tool: bool = False,
                       background: Sequence[Callable[[asyncio.Event], Awaitable[None]]] = (),
                       downloads: Path | None = None, log_notices: ChatLogNotices | None = None) -> int:
    """Chat until end of input. `background` jobs (sign-up reminders, …) run meanwhile and are
    stopped with the chat, as under `homeroom run` with real channels."""
    chat = TerminalChat(engine, school_name, stdin or sys.stdin.buffer, stdout or sys.stdout,
                        user or _local_user(), language, downloads,
                        log_path=log_notices.path if log_notices is not None else None)
    if log_notices is not None:
        log_notices.attach(chat, asyncio.get_running_loop())
    stop = asyncio.Event()
    worker = None
    if delivery is not None:
        async def no_staff_tool(item: Item) -> None:
            """Without Slack, staff work from `homeroom tickets`: there is nowhere to post."""

        delivery.register("terminal", chat.deliver, accepts=lambda target: target == chat.user)
        if not staff_tool:  # with Slack configured, the Slack runner posts staff rows: leave them
            delivery.register("staff", no_staff_tool)
        worker = asyncio.ensure_future(delivery.run(stop))
    jobs = [asyncio.ensure_future(job(stop)) for job in background]
    try:
        return await chat.run()
    finally:
        stop.set()
        if worker is not None:
            await worker
        await asyncio.gather(*jobs, return_exceptions=True)
        if log_notices is not None:
            log_notices.attach(None, None)  # later notices (shutting down) go to stderr


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "parent"
