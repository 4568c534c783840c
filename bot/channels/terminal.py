"""Terminal chat: talk to the bot as a parent, from a shell. Choices are numbered; type the number.

Reads raw bytes from stdin so invalid UTF-8 becomes replacement characters instead of a
traceback; EOF (Ctrl-D) or "quit" ends the chat with exit code 0.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import BinaryIO, TextIO

from bot.core.engine import Engine
from bot.core.messages import Choice, Incoming, Outgoing
from bot.understanding.language import RTL_LANGUAGES

QUIT_WORDS = {"quit", "exit", "/quit", "/exit", "salir"}


def _isolate(text: str, rtl: bool) -> str:
    """Right-to-left text goes inside Unicode isolates (RLI … PDI), line by line, so our
    left-to-right prefixes and numbering don't reorder it and it doesn't reorder them."""
    if not rtl:
        return text
    return "\n".join(f"\u2067{line}\u2069" if line else line for line in text.split("\n"))


def render(reply: Outgoing) -> str:
    rtl = reply.language in RTL_LANGUAGES
    lines = [f"Homeroom: {_isolate(reply.text, rtl)}"]
    for number, choice in enumerate(reply.choices, 1):
        lines.append(f"  {number}) {_isolate(choice.label, rtl)}")
    if reply.attachment:
        lines.append(f"  [attachment: {reply.attachment.filename}]")
    return "\n".join(lines)


async def run_terminal(engine: Engine, school_name: str, stdin: BinaryIO | None = None,
                       stdout: TextIO | None = None, user: str | None = None,
                       language: str | None = None) -> int:
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout
    user = user or _local_user()
    interactive = hasattr(stdin, "isatty") and stdin.isatty()
    loop = asyncio.get_running_loop()
    choices: tuple[Choice, ...] = ()
    counter = 0

    def show(replies: list[Outgoing]) -> None:
        nonlocal choices
        for reply in replies:
            print(render(reply), file=stdout)
            if reply.choices:
                choices = reply.choices
        stdout.flush()

    print(f"Chatting with {school_name} as a parent. Type a question, a number to pick an option, "
          "or 'quit'.", file=stdout)
    show(await engine.handle(Incoming("terminal", user, user, "/start", language_hint=language,
                                      message_id="0")))
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        raw = await loop.run_in_executor(None, stdin.readline)
        if not raw:
            return 0
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if text.strip().lower() in QUIT_WORDS:
            return 0
        counter += 1
        payload = None
        stripped = text.strip()
        if stripped.isdigit() and choices and 1 <= int(stripped) <= len(choices):
            picked = choices[int(stripped) - 1]
            payload, text = picked.payload, picked.label
        show(await engine.handle(Incoming("terminal", user, user, text, payload=payload,
                                          language_hint=language, message_id=str(counter))))


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "parent"
