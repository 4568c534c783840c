"""Terminal chat: talk to the bot as a parent, from a shell. Choices are numbered; type the number.

Reads raw bytes from stdin so invalid UTF-8 becomes replacement characters instead of a
traceback; EOF (Ctrl-D) or "quit" ends the chat with exit code 0. Staff replies (from
`homeroom tickets reply` in another shell) arrive through the outbox while you chat.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from bot.core.engine import Engine
from bot.core.messages import Attachment, Choice, Incoming, Outgoing
from bot.delivery import Delivery
from bot.outbox_messages import FamilyMessage, to_family
from bot.storage.outbox import Item
from bot.understanding.language import RTL_LANGUAGES

QUIT_WORDS = {"quit", "exit", "/quit", "/exit", "salir"}


def _isolate(text: str, rtl: bool) -> str:
    """Right-to-left text goes inside Unicode isolates (RLI … PDI), line by line, so our
    left-to-right prefixes and numbering don't reorder it and it doesn't reorder them."""
    if not rtl:
        return text
    return "\n".join(f"\u2067{line}\u2069" if line else line for line in text.split("\n"))


def render(reply: Outgoing, speaker: str = "Homeroom", saved: Path | None = None) -> str:
    rtl = reply.language in RTL_LANGUAGES
    lines = [f"{speaker}: {_isolate(reply.text, rtl)}"]
    for number, choice in enumerate(reply.choices, 1):
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


class TerminalChat:
    def __init__(self, engine: Engine, school_name: str, stdin: BinaryIO, stdout: TextIO, user: str,
                 language: str | None, downloads: Path | None = None) -> None:
        self.engine, self.school_name, self.downloads = engine, school_name, downloads
        self.stdin, self.stdout, self.user, self.language = stdin, stdout, user, language
        self.choices: list[Choice] = []  # the options last shown, to pick by number
        self.counter = 0

    def show(self, replies: list[Outgoing], speaker: str = "Homeroom") -> None:
        for reply in replies:
            saved = save_attachment(self.downloads, reply.attachment) \
                if reply.attachment and self.downloads is not None else None
            print(render(reply, speaker, saved), file=self.stdout)
            if reply.choices:
                self.choices = list(reply.choices)
        self.stdout.flush()

    async def deliver(self, item: Item) -> None:
        """An outbox message for this parent (a staff reply or a notice)."""
        staff = isinstance(item.message, FamilyMessage) and item.message.sender == "staff"
        self.show([to_family(item.message, "terminal", self.user)], "School staff" if staff else "Homeroom")

    async def send(self, text: str, payload: str | None = None) -> None:
        self.counter += 1
        self.show(await self.engine.handle(Incoming("terminal", self.user, self.user, text, payload=payload,
                                                    language_hint=self.language,
                                                    message_id=str(self.counter))))

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        interactive = hasattr(self.stdin, "isatty") and self.stdin.isatty()
        print(f"Chatting with {self.school_name} as a parent. Type a question, a number to pick an "
              "option, or 'quit'.", file=self.stdout)
        await self.send("/start")
        while True:
            if interactive:
                print("> ", end="", file=self.stdout, flush=True)
            raw = await loop.run_in_executor(None, self.stdin.readline)
            if not raw:
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


async def run_terminal(engine: Engine, school_name: str, stdin: BinaryIO | None = None,
                       stdout: TextIO | None = None, user: str | None = None,
                       language: str | None = None, delivery: Delivery | None = None,
                       staff_tool: bool = False,
                       background: Sequence[Callable[[asyncio.Event], Awaitable[None]]] = (),
                       downloads: Path | None = None) -> int:
    """Chat until end of input. `background` jobs (sign-up reminders, …) run meanwhile and are
    stopped with the chat, as under `homeroom run` with real channels."""
    chat = TerminalChat(engine, school_name, stdin or sys.stdin.buffer, stdout or sys.stdout,
                        user or _local_user(), language, downloads)
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


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "parent"
