"""Which language a family speaks: names of the languages we offer, hints from channels,
and detection of the language of one message.

Detection uses lingua (accurate on short texts), restricted to the school's languages and
in its low-accuracy mode: 30 MB and 60 ms to load instead of 200 MB and a second, which
keeps the bot within its memory budget. lingua has no Haitian Creole, so languages it lacks
are recognised from the catalog's own example words. A detection is only "confident" when
lingua's best language is well ahead of the next one, and only counts at all when at least
one word of the message is a word parents used in our examples of that language (which
keeps keyboard mashing from being taken for Somali), and only when the message has more words
of that language than of English: English with texting forms ("my kid is sik tmrw wont b in")
reads to lingua like Spanish, but its words are the catalog's English ones plus TEXTING.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

from bot.understanding.normalize import normalize

# Each language's name in itself, as shown on the language buttons.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "es": "Español", "zh": "中文", "vi": "Tiếng Việt", "ar": "العربية",
    "ht": "Kreyòl ayisyen", "so": "Soomaali", "pt": "Português", "ru": "Русский",
    "fr": "Français", "ko": "한국어", "tl": "Tagalog", "uk": "Українська", "fa": "فارسی",
    "ja": "日本語", "hi": "हिन्दी", "ne": "नेपाली", "am": "አማርኛ", "sw": "Kiswahili",
}
# English names, for staff ("needs interpreter: Vietnamese").
ENGLISH_NAMES: dict[str, str] = {
    "en": "English", "es": "Spanish", "zh": "Chinese", "vi": "Vietnamese", "ar": "Arabic",
    "ht": "Haitian Creole", "so": "Somali", "pt": "Portuguese", "ru": "Russian", "fr": "French",
    "ko": "Korean", "tl": "Tagalog", "uk": "Ukrainian", "fa": "Persian", "ja": "Japanese",
    "hi": "Hindi", "ne": "Nepali", "am": "Amharic", "sw": "Swahili",
}
RTL_LANGUAGES = {"ar", "fa", "he", "ur", "ps"}
# Our codes -> lingua's Language names.
_LINGUA = {"en": "ENGLISH", "es": "SPANISH", "zh": "CHINESE", "vi": "VIETNAMESE", "ar": "ARABIC",
           "so": "SOMALI", "pt": "PORTUGUESE", "ru": "RUSSIAN", "fr": "FRENCH", "ko": "KOREAN",
           "tl": "TAGALOG", "uk": "UKRAINIAN", "fa": "PERSIAN", "ja": "JAPANESE", "hi": "HINDI",
           "sw": "SWAHILI"}
# English texting forms parents write (they are in no catalog example, and lingua reads them
# as another language): they count as English words when weighing a detection.
TEXTING = frozenset("""
tmrw tmr tmrow tmro 2moro 2morow 2morrow 2mrw 2day tdy 2nite tonite nite b u r ur ya yall pls plz
plez thx thnx thanx tx ty tysm wont dont cant didnt doesnt isnt im ive id ill idk asap sik skool
wat wut wht gonna wanna gotta kk lol bc cuz coz abt w wo msg txt ppl hw yr yrs pic 4 2 n nd
smth sth rn btw fyi pm am hr hrs min mins bday prob probs sry sorry gd nxt wk wknd cya dr appt
""".split())


def language_from_hint(hint: str | None, offered: tuple[str, ...] | list[str]) -> str | None:
    """A channel's language hint ('es-MX', 'pt_BR', 'zh-hans') as an offered code, or None."""
    if not hint:
        return None
    code = hint.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in offered else None


def language_name(code: str) -> str:
    """The language's own name as a label or button ('Español', 'Tiếng Việt')."""
    return LANGUAGE_NAMES.get(code, code)


# Language names inside a Haitian Creole sentence (Babel has none): lowercase, as Creole writes them.
_CREOLE_NAMES = {"en": "angle", "es": "panyòl", "ht": "kreyòl ayisyen", "so": "somali", "ru": "ris",
                 "vi": "vyetnamyen", "zh": "chinwa", "ar": "arab", "pt": "pòtigè", "fr": "franse"}


def language_in_text(code: str, lang: str) -> str:
    """The name of language `code` inside a sentence written in `lang`, capitalised as `lang`
    writes it there: 'español' in Spanish, 'tiếng Việt' in Vietnamese, 'English' in English
    (CLDR's display names; curated for Haitian Creole)."""
    if lang == "ht":
        return _CREOLE_NAMES.get(code, language_name(code))
    from babel import Locale
    from babel.core import UnknownLocaleError

    try:
        name = Locale.parse(lang).languages.get(code)
    except (UnknownLocaleError, ValueError):
        name = None
    if not name:
        return language_name(code)
    if lang == "vi" and name.startswith("Tiếng "):
        name = "tiếng " + name[len("Tiếng "):]  # 'tiếng Việt' mid-sentence
    return name


@dataclass(frozen=True)
class Detection:
    language: str | None  # None: not sure
    confidence: float     # 0..1
    words: int


class LanguageDetector:
    def __init__(self, offered: Iterable[str], examples: Mapping[str, Iterable[str]] | None = None,
                 min_distance: float = 0.2) -> None:
        self.offered = tuple(dict.fromkeys(["en", *offered]))
        self.min_distance = min_distance
        self._lingua = None
        self._lock = threading.Lock()
        self._by_code: dict = {}
        # words that only the catalog's examples in a language lingua lacks use
        self._own_words: dict[str, set[str]] = {}
        self._vocabulary: dict[str, set[str]] = {}
        self._rate: dict[str, dict[str, float]] = {}  # a word's share of each language's examples
        if examples:
            counts = {lang: Counter(w for text in texts for w in normalize(text).split())
                      for lang, texts in examples.items()}
            self._vocabulary = {lang: set(c) for lang, c in counts.items()}
            self._rate = {lang: {w: n / max(1, c.total()) for w, n in c.items()} for lang, c in counts.items()}
            for lang in self.offered:
                if lang in _LINGUA or lang not in counts:
                    continue
                others = set().union(*(set(c) for l, c in counts.items() if l != lang))
                self._own_words[lang] = {w for w in counts[lang] if w not in others and len(w) > 1}

    def _detector(self):
        if self._lingua is None:
            with self._lock:
                if self._lingua is None:
                    from lingua import Language, LanguageDetectorBuilder

                    languages = [getattr(Language, _LINGUA[c]) for c in self.offered if c in _LINGUA]
                    self._by_code = {getattr(Language, _LINGUA[c]): c for c in self.offered if c in _LINGUA}
                    self._lingua = (LanguageDetectorBuilder.from_languages(*languages)
                                    .with_minimum_relative_distance(self.min_distance)
                                    .with_low_accuracy_mode().build())
        return self._lingua

    def warm(self) -> None:
        """Load lingua's models now (call from a worker thread at start-up, not on a message)."""
        self._detector().compute_language_confidence_values("warm up")

    def detect(self, text: str) -> Detection:
        words = normalize(text).split()
        if not words:
            return Detection(None, 0.0, 0)
        for lang, own in self._own_words.items():  # languages lingua does not know
            hits = sum(w in own for w in words)
            if hits >= 2 and hits / len(words) >= 0.4:
                return Detection(lang, min(1.0, hits / len(words) + 0.3), len(words))
        if len(self._by_code) < 2 and self._lingua is not None:
            return Detection(None, 0.0, len(words))
        detector = self._detector()
        values = detector.compute_language_confidence_values(text)
        if not values:
            return Detection(None, 0.0, len(words))
        best = values[0]
        runner_up = values[1].value if len(values) > 1 else 0.0
        code = self._by_code.get(best.language)
        if code is None or best.value - runner_up < self.min_distance:  # lingua's own abstention rule
            return Detection(None, best.value - runner_up, len(words))
        vocabulary = self._vocabulary.get(code)
        if vocabulary and not any(w in vocabulary for w in words):
            # not one word a parent of that language used in our examples: gibberish, a name,
            # a typo — too little to act on
            return Detection(None, 0.0, len(words))
        if code != "en" and self._reads_as_english(words, code):
            return Detection("en", best.value - runner_up, len(words))
        return Detection(code, best.value - runner_up if len(values) > 1 else best.value, len(words))

    def _reads_as_english(self, words: list[str], code: str) -> bool:
        """More of the message's words are English than words of `code`. A word counts for the
        language whose catalog examples use it (English: also the texting forms); a word both
        use ("ok", "bus", "thanks": parents of every language borrow them) counts for the one
        that uses it at least twice as often, relative to its examples' size; else a texting
        form counts for English and any other word for neither. So "ok thx" stays English, and
        Spanish "no" stays Spanish."""
        en_rate, other_rate = self._rate.get("en", {}), self._rate.get(code, {})
        english = other = 0
        for w in words:
            e, o = en_rate.get(w, 0.0), other_rate.get(w, 0.0)
            if o and o >= 2 * e:  # Somali "u" is a texting form in English, and Somali first
                other += 1
            elif (e and e >= 2 * o) or w in TEXTING:
                english += 1
        return english > other
