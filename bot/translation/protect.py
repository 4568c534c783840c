"""Keep what must not change out of the translation model's hands.

`protect()` swaps URLs, emails, phone numbers, times, dates and glossary terms (program names,
the school's and people's names) for placeholder tokens; `restore()` puts the originals back
after translation. Pure functions.

The placeholder is `XQX<n>XQX`: plain ASCII letters and digits, which every sentencepiece
vocabulary covers (bracket characters such as "⟦" are often <unk> and come back as " ⁇ "), and
a nonsense word that translation models copy rather than translate. `restore()` tolerates what
models do to such tokens (spaces inside it, lower case, other digit scripts) and appends any
token the model dropped, so nothing protected is ever lost.
"""

from __future__ import annotations

import re
from typing import Iterable

PREFIX = SUFFIX = "XQX"


def placeholder(index: int) -> str:
    return f"{PREFIX}{index}{SUFFIX}"


# What a model may have done to a placeholder: spaces between its parts, changed case,
# another script's digits (\d is Unicode-aware and int() reads them).
_TOKEN_OUT_RE = re.compile(r"X\s*Q\s*X\s*(\d+)\s*X\s*Q\s*X", re.IGNORECASE)
# A text that already contains something looking like a placeholder: protect it too.
_TOKEN_IN_RE = re.compile(r"X\s*Q\s*X\s*\d+\s*X\s*Q\s*X", re.IGNORECASE)

_TRAILING_PUNCT = ".,;:!?'\"»”’)]}>"

_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL_RE = re.compile(
    r"(?<![\w@/.-])(?:"
    r"(?:https?|ftp)://[^\s<>\"]+"
    r"|www\.[^\s<>\"]+"
    r"|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|us|io|info|school|k12)\b(?:/[^\s<>\"]*)?"
    r")",
    re.IGNORECASE,
)
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?!\d)",
    re.IGNORECASE,
)
_AMPM = r"(?:[AaPp]\.\s?[Mm]\.|[AaPp][Mm]\b)"
_TIME_RE = re.compile(
    rf"(?<![\w:])(?:(?:[01]?\d|2[0-3]):[0-5]\d(?:\s?{_AMPM})?|(?:1[0-2]|0?[1-9])\s?{_AMPM})(?![\w:])"
)
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DATE_RE = re.compile(
    r"(?<![\w/-])(?:"
    r"\d{4}-\d{1,2}-\d{1,2}"                                   # 2026-11-26
    r"|\d{1,2}/\d{1,2}(?:/(?:\d{4}|\d{2}))?"                  # 11/26/2026, 11/26
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"  # November 26(, 2026)
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"  # 26 November 2026
    r")(?![\w/])"
)

# Order matters only for ties (same start, same length): earlier wins.
_PATTERNS = (_TOKEN_IN_RE, _EMAIL_RE, _URL_RE, _PHONE_RE, _DATE_RE, _TIME_RE)


def _glossary_re(glossary: Iterable[str]) -> re.Pattern[str] | None:
    terms = sorted({t.strip() for t in glossary if t and t.strip()}, key=len, reverse=True)
    if not terms:
        return None
    alts = [r"\s+".join(re.escape(part) for part in term.split()) for term in terms]
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)", re.IGNORECASE)


def _trim_url(text: str, start: int, end: int) -> int:
    """Don't swallow sentence punctuation or a closing bracket that isn't part of the URL."""
    while end > start and text[end - 1] in _TRAILING_PUNCT:
        if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
            break
        end -= 1
    return end


def protect(text: str, glossary: Iterable[str] = ()) -> tuple[str, dict[str, str]]:
    """Replace protected spans with placeholders. Returns (text, {placeholder: original})."""
    spans: list[tuple[int, int, int]] = []  # (start, end, priority)
    for priority, pattern in enumerate(_PATTERNS):
        for m in pattern.finditer(text):
            end = _trim_url(text, m.start(), m.end()) if pattern is _URL_RE else m.end()
            if end > m.start():
                spans.append((m.start(), end, priority))
    gloss = _glossary_re(glossary)
    if gloss is not None:
        for m in gloss.finditer(text):
            spans.append((m.start(), m.end(), len(_PATTERNS)))
    if not spans:
        return text, {}
    # Leftmost first, then longest, then by priority; drop anything overlapping a chosen span.
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0]), s[2]))
    out: list[str] = []
    mapping: dict[str, str] = {}
    pos = 0
    for start, end, _ in spans:
        if start < pos:
            continue
        token = placeholder(len(mapping))
        mapping[token] = text[start:end]
        out.append(text[pos:start])
        out.append(token)
        pos = end
    out.append(text[pos:])
    return "".join(out), mapping


def _joins_word(a: str, b: str) -> bool:
    """Would `a` directly followed by `b` glue two words together (in a script that uses spaces)?"""
    return a.isalnum() and b.isalnum() and ord(a) < 0x2E80 and ord(b) < 0x2E80


def restore(text: str, mapping: dict[str, str]) -> str:
    """Put protected spans back. Tolerates spacing/case changes inside a placeholder; drops
    placeholders the input never had; appends, in order, any the model lost."""
    if not mapping:
        return text
    by_index = {int(_TOKEN_OUT_RE.fullmatch(k).group(1)): v for k, v in mapping.items()}
    seen: set[int] = set()
    removed = False

    def sub(m: re.Match[str]) -> str:
        index = int(m.group(1))
        value = by_index.get(index)
        if value is None:
            nonlocal removed
            removed = True
            return ""
        seen.add(index)
        before = m.string[m.start() - 1] if m.start() > 0 else ""
        after = m.string[m.end()] if m.end() < len(m.string) else ""
        if before and _joins_word(before, value[0]):
            value = " " + value
        if after and _joins_word(value[-1], after):
            value = value + " "
        return value

    restored = _TOKEN_OUT_RE.sub(sub, text)
    if removed:
        restored = re.sub(r"[ \t]{2,}", " ", restored).strip()
    missing = [by_index[i] for i in sorted(by_index) if i not in seen]
    if missing:
        restored = restored.rstrip()
        restored = (restored + " " if restored else "") + " ".join(missing)
    return restored
