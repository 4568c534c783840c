"""Put a turn's replies into the family's language: curated text first, machine translation
where there is none (marked as such), English with a curated notice where neither exists.

Handlers write English (`Text`: a gettext msgid plus values, which may be Texts themselves,
e.g. a staff-written title in a sentence); this is the one place where language is applied, so
every reply follows the same rules and a machine translation is marked where it happened.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from bot.core.messages import Attachment, Choice, Outgoing
from bot.i18n import N_, Locales, fill, fill_in

log = logging.getLogger(__name__)

MACHINE_NOTE = N_("(Automatic translation)")
ENGLISH_ONLY_NOTE = N_("This answer is only available in English for now. If you need help in your "
                       "language, choose “Talk to a person” and a staff member will follow up.")


@dataclass(frozen=True)
class Text:
    """Something to say. `kind`: "ui" (curated, else machine, else English), "free" (staff words:
    curated if the catalogs have them, else machine translation, else as written), "fixed" (never
    translated, e.g. a time, or a frame that only joins other texts). A value may itself be a
    Text: it is rendered in the language settled for this one (see `Localizer`)."""

    msgid: str
    values: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "ui"


def joined(parts: Iterable[Any], sep: str = "\n", prefix: str = "") -> Text:
    """`parts` (Texts or plain strings) one after another, each rendered on its own: `prefix`,
    then the parts between `sep`s; nothing at all when there are no parts."""
    parts = list(parts)
    if not parts:
        return Text("", kind="fixed")
    escape = lambda s: s.replace("{", "{{").replace("}", "}}")  # noqa: E731
    template = escape(prefix) + escape(sep).join("{p%d}" % i for i in range(len(parts)))
    return Text(template, {f"p{i}": part for i, part in enumerate(parts)}, kind="fixed")


@dataclass
class Draft:
    text: Text
    choices: list[tuple[Text, str]] = field(default_factory=list)
    attachment: Attachment | None = None


@dataclass(frozen=True)
class Rendered:
    text: str
    source: str  # "curated" | "machine" | "english" | "fixed": how the outer text was rendered
    machine: bool = False  # it, or a text nested in it, was machine translated (mark the reply)


class Localizer:
    """Renders Texts. The outer text settles the language and its nested texts follow it:
    curated (or English, or fixed) → each nested text is rendered in that language by its own
    kind; machine → the sentence is filled in English and translated whole, so the model sees
    the whole sentence and never translates a translation (a nested curated text is then
    machine translated with it); neither → English throughout, nested texts too."""

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
        wanted: dict[str, None] = {}
        ready = self._render(text, lang, {}, wanted)
        return None if wanted else ready

    async def render(self, text: Text, lang: str) -> Rendered:
        [rendered] = await self.render_all([text], lang)
        return rendered

    async def render_all(self, texts: list[Text], lang: str) -> list[Rendered]:
        """Render `texts`; the sentences that need the model are translated in parallel, once each."""
        done: dict[str, str | None] = {}  # English → its machine translation (None: it failed)
        wanted: dict[str, None] = {}
        out = [self._render(text, lang, done, wanted) for text in texts]
        if wanted:
            english = list(wanted)
            results = await asyncio.gather(*(self.translator.translate(e, "en", lang) for e in english))
            done.update((e, r.text if r.ok else None) for e, r in zip(english, results))
            out = [self._render(text, lang, done, {}) for text in texts]
        return out

    def _render(self, text: Text, lang: str, done: Mapping[str, str | None], wanted: dict[str, None]) -> Rendered:
        """One pass: a sentence for the model that is not in `done` is added to `wanted` (and
        rendered in English meanwhile)."""
        if text.kind == "fixed" or lang == "en":
            values, machine = self._nested(text.values, lang, done, wanted)
            return Rendered(fill(text.msgid, values), "fixed" if text.kind == "fixed" else "curated", machine)
        curated = self.locales.lookup(lang, text.msgid)
        if curated is not None:
            values, machine = self._nested(text.values, lang, done, wanted)
            return Rendered(fill_in(lang, curated, self.values_in(values, lang, curated)), "curated", machine)
        english = self._render(text, "en", done, wanted).text
        if english.strip() and self.can_machine_translate("en", lang):
            if english not in done:
                wanted[english] = None
            elif done[english] is not None:
                return Rendered(done[english], "machine", True)
        return Rendered(english, "english")

    def _nested(self, values: Mapping[str, Any], lang: str, done: Mapping[str, str | None],
                wanted: dict[str, None]) -> tuple[Mapping[str, Any], bool]:
        """`values` with each nested Text rendered in `lang`; whether any was machine translated."""
        if not any(isinstance(v, Text) for v in values.values()):
            return values, False
        rendered = {k: self._render(v, lang, done, wanted) if isinstance(v, Text) else v for k, v in values.items()}
        machine = any(isinstance(r, Rendered) and r.machine for r in rendered.values())
        return {k: r.text if isinstance(r, Rendered) else r for k, r in rendered.items()}, machine

    async def outgoing(self, drafts: list[Draft], lang: str, channel: str, chat_id: str) -> list[Outgoing]:
        out = []
        for draft in drafts:
            body, *labels = await self.render_all([draft.text, *(label for label, _ in draft.choices)], lang)
            text = await self.marked(body, lang)
            if body.source == "english" and lang != "en":
                notice = self.locales.lookup(lang, ENGLISH_ONLY_NOTE)
                if notice:
                    text += "\n\n" + notice
            choices = [Choice(label.text, payload) for label, (_, payload) in zip(labels, draft.choices)]
            out.append(Outgoing(channel, chat_id, text, tuple(choices), draft.attachment, language=lang,
                                machine_translated=body.machine))
        return out

    async def marked(self, body: Rendered, lang: str) -> str:
        """`body`'s text, with the "(Automatic translation)" note (once) when the sentence or any
        text nested in it was machine translated."""
        if not body.machine:
            return body.text
        return body.text + "\n\n" + (await self.render(Text(MACHINE_NOTE), lang)).text
