"""Text normalization shared by the catalog index and every query, so both sides agree.

rapidfuzz (>= 3) does no preprocessing of its own, so everything it compares comes from here:
lower case, accents folded, punctuation and emoji dropped, elongated letters squeezed
("pleeease" -> "please"), texting forms expanded ("u" -> "you"), whitespace collapsed.
Chinese and other unspaced scripts are split into overlapping character pairs so they can
be matched word-like.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Texting forms and common misspellings parents use, mapped to the catalog's words.
# Only unambiguous forms: "hw" could be "how" or "homework", so it stays.
SHORTHAND: dict[str, str] = {
    # English
    "u": "you", "ya": "you", "ur": "your", "r": "are", "pls": "please",
    "plz": "please", "pleez": "please", "thx": "thanks", "thnx": "thanks", "ty": "thank you",
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmrrw": "tomorrow", "tomoro": "tomorrow",
    "tomorow": "tomorrow", "2moro": "tomorrow", "2morrow": "tomorrow", "2day": "today",
    "tday": "today", "tonite": "tonight", "wat": "what", "wut": "what", "wht": "what",
    "whats": "what is", "wats": "what is", "skool": "school", "skl": "school", "schl": "school",
    "b4": "before", "bc": "because", "cuz": "because", "coz": "because", "bcuz": "because",
    "abt": "about", "msg": "message", "info": "information", "sched": "schedule",
    "shedule": "schedule", "scedule": "schedule", "hrs": "hours", "hr": "hour", "min": "minutes",
    "mins": "minutes", "dnt": "dont", "cant": "can not", "cannot": "can not", "wont": "will not",
    "im": "i am", "ive": "i have", "idk": "i do not know", "gonna": "going to", "wanna": "want to",
    "gotta": "have to", "kiddo": "kid", "kido": "kid", "kiddos": "kids", "pic": "picture",
    "teh": "the", "thru": "through", "wk": "week", "yr": "year", "yrs": "years",
    "pta": "pta", "asap": "soon", "govt": "government", "appt": "appointment",
    "dr": "doctor", "doc": "doctor", "tchr": "teacher", "teachr": "teacher",
    # Spanish
    "q": "que", "xq": "porque", "pq": "porque", "porq": "porque", "tb": "tambien",
    "tmb": "tambien", "xfa": "por favor", "porfa": "por favor",
    "pf": "por favor", "msj": "mensaje", "hrs.": "horas", "ma": "mama", "pa": "para",
}

_ELONGATED = re.compile(r"(\w)\1{2,}")
_ONE_LETTER_RUN = re.compile(r"^(\w)\1{2,}$")  # "aaaaaaa", "jjjj": keyboard noise, not a word
_SPACES = re.compile(r"\s+")
# Unspaced scripts (Han, Hiragana/Katakana, Thai…) are matched by character pairs.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_text(text: str) -> str:
    """Drop control and bidi-override characters, keep everything a person wrote."""
    return _CONTROL.sub("", text).strip()


def _fold_char(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat.startswith("L") or cat.startswith("N"):
        return ch
    if cat == "Mn":  # combining accents (after NFKD) disappear
        return ""
    return " "  # punctuation, symbols, emoji, separators


class _Folding(dict):
    """Code point -> folded text for str.translate, filled on first sight: the catalog's 14,000
    examples then cost one C-level lookup per character instead of a Python call."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold_char(chr(code))
        return folded


_FOLD = _Folding()


@lru_cache(maxsize=32768)  # holds the whole catalog, so loading and indexing share the work
def normalize(text: str) -> str:
    """The canonical form of a text for matching (space-separated tokens)."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = text.replace("'", "").replace("\u2019", "")  # "don't" -> "dont", "what's" -> "whats"
    text = text.translate(_FOLD)
    text = " ".join(t for t in text.split() if not _ONE_LETTER_RUN.match(t))
    text = _ELONGATED.sub(r"\1", text)
    tokens: list[str] = []
    for token in _SPACES.split(text):
        if not token:
            continue
        if _UNSPACED.search(token):
            tokens.extend(_split_unspaced(token))
            continue
        tokens.extend(SHORTHAND.get(token, token).split())
    return " ".join(tokens)


def _split_unspaced(token: str) -> list[str]:
    """Han/Thai runs become overlapping character pairs; other letters stay whole."""
    out: list[str] = []
    pos = 0
    for match in _UNSPACED.finditer(token):
        if match.start() > pos:
            out.append(token[pos:match.start()])
        run = match.group()
        out.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
        pos = match.end()
    if pos < len(token):
        out.append(token[pos:])
    return out


def tokens(text: str) -> list[str]:
    return normalize(text).split()
