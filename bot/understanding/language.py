"""Which language a family speaks: names of the languages we offer, and hints from channels."""

from __future__ import annotations

# Each language's name in itself, as shown on the language buttons.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "es": "Español", "zh": "中文", "vi": "Tiếng Việt", "ar": "العربية",
    "ht": "Kreyòl ayisyen", "so": "Soomaali", "pt": "Português", "ru": "Русский",
    "fr": "Français", "ko": "한국어", "tl": "Tagalog", "uk": "Українська", "fa": "فارسی",
    "ja": "日本語", "hi": "हिन्दी", "ne": "नेपाली", "am": "አማርኛ", "sw": "Kiswahili",
}

RTL_LANGUAGES = {"ar", "fa", "he", "ur", "ps"}


def language_from_hint(hint: str | None, offered: tuple[str, ...] | list[str]) -> str | None:
    """A channel's language hint ('es-MX', 'pt_BR', 'zh-hans') as an offered code, or None."""
    if not hint:
        return None
    code = hint.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in offered else None
