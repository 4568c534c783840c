"""Turning an `Outgoing` into what Telegram accepts: pure functions, no network.

- Text goes out with parse mode HTML and is escaped completely (`html.escape`): we write no
  markup, and everything we send — catalog answers, machine translations, staff words, names —
  may contain `<`, `&`, `*`, `_` that must show as typed. (HTML rather than MarkdownV2: only
  three characters need escaping, and `html.escape` is in the standard library.)
- A text longer than Telegram's 4,096 characters is split on a paragraph, then a line, then a
  sentence, then a word boundary (a hard cut only for a 4,096-character "word"). The limit is
  measured on the escaped text in UTF-16 code units, as Telegram counts, so `&amp;` and emoji
  can never push a part over.
- Choices become an inline keyboard, one button per row; a payload longer than Telegram's 64
  bytes of callback data cannot be sent and is left out with a warning.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.messages import Choice

log = logging.getLogger("bot.telegram")

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"\n\s*")
# the end of a sentence: terminal punctuation (and closing quotes/brackets), then a space;
# CJK full stops need no space after them
_SENTENCE = re.compile(r"(?:[.!?…؟]+[\"'”’»)\]]*\s+|[。！？]+[”’」』)]*\s*)")
_WORD = re.compile(r"\s+")


def escape(text: str) -> str:
    """Text for parse mode HTML: &, < and > escaped (quotes need no escaping outside tags)."""
    return html.escape(text, quote=False)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def telegram_size(text: str) -> int:
    """How Telegram measures a part we send: the escaped text in UTF-16 code units."""
    return utf16_len(escape(text))


def split_text(text: str, limit: int = MAX_TEXT, size: Callable[[str], int] = telegram_size) -> list[str]:
    """Split `text` into parts with `size(part) <= limit`, at the best boundary available:
    paragraph, line, sentence, word, and only then anywhere. A boundary is used only if it keeps
    at least half of the room, so no part is needlessly short. Whitespace at a cut is dropped;
    nothing else is."""
    if limit < 1:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text.strip()
    while rest and size(rest) > limit:
        room = _fitting_prefix(rest, limit, size)
        cut, skip = _boundary(rest, room)
        head = rest[:cut].rstrip()
        if head:
            parts.append(head)
        rest = rest[skip:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _fitting_prefix(text: str, limit: int, size: Callable[[str], int]) -> int:
    """The longest prefix length n with size(text[:n]) <= limit (size grows with the prefix)."""
    low, high = 1, len(text)
    if size(text[:1]) > limit:
        return 1  # a single character over the limit: it goes alone (cannot happen for 4,096)
    while low < high:
        mid = (low + high + 1) // 2
        if size(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return low


def _boundary(text: str, room: int) -> tuple[int, int]:
    """(end of the head, start of the rest) for a cut within text[:room]."""
    # a boundary right at the edge of the window also counts (the separator may lie beyond it)
    lookahead = text[:room + 2]
    for pattern in (_PARAGRAPH, _LINE, _SENTENCE, _WORD):
        best = None
        for match in pattern.finditer(lookahead):
            end_of_head = match.start() if pattern is not _SENTENCE else _sentence_end(match)
            if end_of_head > room or end_of_head < 1:
                continue
            best = (end_of_head, match.end())
        if best is not None and best[0] >= room // 2:
            return best
    # no boundary: a hard cut, but not between a character and its combining mark or joiner
    cut = room
    while cut > 1 and _is_combining(text[cut - 1:cut + 1]):
        cut -= 1
    return cut, cut


def _sentence_end(match: re.Match[str]) -> int:
    """A sentence ends after its punctuation (and closing quote), before the space."""
    return match.start() + len(match.group(0).rstrip())


def _is_combining(pair: str) -> bool:
    return len(pair) == 2 and (unicodedata.combining(pair[1]) > 0 or pair[1] in "\u200d\ufe0f")


def keyboard(choices: tuple[Choice, ...] | list[Choice]) -> InlineKeyboardMarkup | None:
    """One button per row; a choice whose payload does not fit in callback data is left out."""
    rows = []
    for choice in choices:
        data = choice.payload
        if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            log.warning("telegram.button_skipped reason=callback_data_size bytes=%d", len(data.encode("utf-8")))
            continue
        label = choice.label.strip() or data
        rows.append([InlineKeyboardButton(label, callback_data=data)])
    return InlineKeyboardMarkup(rows) if rows else None
