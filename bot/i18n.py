"""Curated translations: gettext catalogs in `locales/<lang>/LC_MESSAGES/*.po`.

The language is always an explicit argument (never process-wide state), so two families
answered at the same moment each get their own. A message that is missing, empty or marked
fuzzy (its English source changed) is not curated: callers get None and fall back.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any, Mapping

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Mark a UI string for extraction (`pybabel extract -k N_`) without translating it here."""
    return message


class Locales:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._catalogs: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def languages(self) -> list[str]:
        """Languages with at least one .po file."""
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir()
                      if (p / "LC_MESSAGES").is_dir() and any((p / "LC_MESSAGES").glob("*.po")))

    def _load(self, lang: str) -> dict[str, str]:
        catalog = self._catalogs.get(lang)
        if catalog is not None:
            return catalog
        with self._lock:
            if lang in self._catalogs:
                return self._catalogs[lang]
            catalog = {}
            folder = self.directory / lang / "LC_MESSAGES"
            files = sorted(folder.glob("*.po")) if folder.is_dir() else []
            if files:
                from babel.messages.pofile import read_po  # only when a language needs it

                for path in files:
                    with path.open("rb") as fh:
                        po = read_po(fh, locale=None)
                    for message in po:
                        if not message.id or message.fuzzy or isinstance(message.id, tuple):
                            continue
                        if isinstance(message.string, str) and message.string.strip():
                            catalog[message.id] = message.string
            self._catalogs[lang] = catalog
            return catalog

    def lookup(self, lang: str, msgid: str) -> str | None:
        """The curated translation of `msgid`, or None."""
        if lang == "en" or not msgid:
            return msgid if lang == "en" else None
        return self._load(lang).get(msgid)

    def text(self, lang: str, msgid: str, values: Mapping[str, Any] | None = None) -> str:
        """A UI string in `lang` (English when not curated), with {placeholders} filled."""
        template = self.lookup(lang, msgid) or msgid
        return fill_in(lang, template, values or {})

    def reload(self) -> None:
        with self._lock:
            self._catalogs.clear()

    def load_all(self) -> dict[str, int]:
        """Read every language's catalogs now (from a worker thread): curated messages per language."""
        return {lang: len(self._load(lang)) for lang in self.languages()}

    def adopt(self, other: "Locales") -> None:
        """Take `other`'s loaded catalogs in one step, so every holder of this object sees the new
        text at once and no reply is rendered from half-loaded catalogs (`homeroom reload`)."""
        with self._lock:
            self.directory, self._catalogs = other.directory, dict(other._catalogs)


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_BEFORE_A_STOP = re.compile(r"\{(\w+)\}\.")


def fill(template: str, values: Mapping[str, Any]) -> str:
    """str.format_map that leaves an unknown {name} as it is instead of crashing a reply. A value
    that ends with a full stop ("7 дек." in Russian dates) takes the place of the sentence's own,
    so the family never reads "дек..". """
    if "}." in template:
        template = _BEFORE_A_STOP.sub(
            lambda m: m.group(0)[:-1] if str(values.get(m.group(1), "")).endswith(".") else m.group(0), template)
    try:
        return template.format_map(_Missing(values))
    except (ValueError, IndexError):
        return template


# Chinese sets no spaces between its own words. Next to an inserted value, a space in a template
# stays when the value is all Latin text or numbers (a name, a phone number, an address: "与 Mr.
# Brooks 的", "专线 (951) 555-0143 或") and goes when the value is Chinese ("请在上午8:20之前").
_PLACEHOLDER = re.compile(r"( ?)\{(\w+)\}( ?)")
_HAN = re.compile(r"[\u3400-\u9fff]")


def _spaced(value: str, edge: str) -> bool:
    return not edge.isspace() and (not _HAN.search(value) or (edge.isascii() and edge.isalpha()))


def fill_in(lang: str, template: str, values: Mapping[str, Any]) -> str:
    """`fill` for a sentence in `lang`: in Chinese, spaces around a value follow the value."""
    if not lang.startswith("zh"):
        return fill(template, values)

    def respace(match: re.Match) -> str:
        name = match.group(2)
        if name not in values:
            return match.group(0)
        value = str(values[name])
        before = template[match.start() - 1] if match.start() > 0 else ""
        after = template[match.end()] if match.end() < len(template) else ""
        left, right = match.group(1), match.group(3)
        if value and _HAN.match(before or " "):
            left = " " if _spaced(value, value[0]) else ""
        if value and _HAN.match(after or " "):
            right = " " if _spaced(value, value[-1]) else ""
        return left + "{" + name + "}" + right

    return fill(_PLACEHOLDER.sub(respace, template), values)
