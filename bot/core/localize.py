"""Put a turn's replies into the family's language: curated text first, machine translation
where there is none (marked as such), English with a curated notice where neither exists.

Handlers write English (`Text`: a gettext msgid plus values); this is the one place where
language is applied, so every reply follows the same rules.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from bot.core.messages import Attachment, Choice, Outgoing
from bot.i18n import N_, Locales, fill

log = logging.getLogger(__name__)

MACHINE_NOTE = N_("(Automatic translation)")
ENGLISH_ONLY_NOTE = N_("This answer is only available in English for now. If you need help in your "
                       "language, choose “Talk to a person” and a staff member will follow up.")


@dataclass(frozen=True)
class Text:
    """Something to say. `kind`: "ui" (curated, else machine, else English), "free" (not in the
    catalogs: machine translation or as is, e.g. staff words), "fixed" (never translated)."""

    msgid: str
    values: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "ui"


@dataclass
class Draft:
    text: Text
    choices: list[tuple[Text, str]] = field(default_factory=list)
    attachment: Attachment | None = None
    machine: bool = False  # its values hold machine-translated staff text (mark the reply)


@dataclass(frozen=True)
class Rendered:
    text: str
    source: str  # "curated" | "machine" | "english" | "fixed"


class Localizer:
    def __init__(self, locales: Locales, translator: Any | None = None, info: Mapping[str, str] | None = None,
                 info_translations: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.locales = locales
        self.translator = translator  # bot.translation.Translator, or None without the extra
        self.info = info or {}  # the school profile's [info] (English)
        self.info_translations = info_translations or {}  # its [info.<lang>] tables

    def values_in(self, values: Mapping[str, Any], lang: str, template: str = "") -> Mapping[str, Any]:
        """`values` for a curated sentence in `lang`: each school profile value the school wrote
        in that language ([info.<lang>]) replaces its English original, so a Spanish answer
        does not say "Monday to Thursday" mid-sentence. Only the profile's own values are
        swapped (same key, same English text); anything else passed under that key stays. A
        value ending in a period ("7:45 a.m.", "2026 г.") loses it where `template` puts one
        right after the placeholder."""
        local = self.info_translations.get(lang)
        if not local:
            return values
        swapped = {key: local[key] for key, value in values.items()
                   if key in local and value == self.info.get(key)}
        for key, value in swapped.items():
            if value.endswith(".") and "{" + key + "}." in template:
                swapped[key] = value[:-1]
        return {**values, **swapped} if swapped else values

    def can_machine_translate(self, source: str, target: str) -> bool:
        return self.translator is not None and source != target and self.translator.can_translate(source, target)

    def render_now(self, text: Text, lang: str) -> Rendered | None:
        """The rendering when no translation model is needed (most replies), else None."""
        if text.kind == "fixed" or lang == "en":
            return Rendered(fill(text.msgid, text.values), "fixed" if text.kind == "fixed" else "curated")
        if text.kind == "ui":
            curated = self.locales.lookup(lang, text.msgid)
            if curated is not None:
                return Rendered(fill(curated, self.values_in(text.values, lang, curated)), "curated")
        if not self.can_machine_translate("en", lang):
            return Rendered(fill(text.msgid, text.values), "english")
        return None

    async def render(self, text: Text, lang: str) -> Rendered:
        ready = self.render_now(text, lang)
        if ready is not None:
            return ready
        english = fill(text.msgid, text.values)
        if self.can_machine_translate("en", lang):
            result = await self.translator.translate(english, "en", lang)
            if result.ok:
                return Rendered(result.text, "machine")
        return Rendered(english, "english")

    async def outgoing(self, drafts: list[Draft], lang: str, channel: str, chat_id: str) -> list[Outgoing]:
        out = []
        for draft in drafts:
            parts = [draft.text, *(label for label, _ in draft.choices)]
            ready = [self.render_now(part, lang) for part in parts]
            if any(r is None for r in ready):  # a model is needed: body and labels translate in parallel
                ready = await asyncio.gather(*(self.render(part, lang) for part in parts))
            body, *labels = ready
            text = body.text
            if body.source == "machine" or draft.machine:
                text += "\n\n" + (await self._note(MACHINE_NOTE, lang))
            elif body.source == "english" and lang != "en":
                notice = self.locales.lookup(lang, ENGLISH_ONLY_NOTE)
                if notice:
                    text += "\n\n" + notice
            choices = [Choice(label.text, payload) for label, (_, payload) in zip(labels, draft.choices)]
            out.append(Outgoing(channel, chat_id, text, tuple(choices), draft.attachment, language=lang,
                                machine_translated=body.source == "machine" or draft.machine))
        return out

    async def _note(self, msgid: str, lang: str) -> str:
        curated = self.locales.lookup(lang, msgid)
        if curated:
            return curated
        rendered = await self.render(Text(msgid), lang)
        return rendered.text
