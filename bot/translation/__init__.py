"""Translation for families: offline machine translation (argostranslate) behind one interface.

Importing this package is cheap: argostranslate, CTranslate2 and sentencepiece are imported on
first use only.
"""

from bot.translation.machine import (
    ArgosTranslator,
    FakeTranslator,
    PackageError,
    Translation,
    TranslationError,
    Translator,
)
from bot.translation.protect import protect, restore

__all__ = ["ArgosTranslator", "FakeTranslator", "PackageError", "Translation", "TranslationError",
           "Translator", "protect", "restore"]
