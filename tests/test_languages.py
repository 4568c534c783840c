"""Every family in its own language: detection, switching, curated text, machine translation."""

from __future__ import annotations

import pytest

from bot.app import start
from bot.channels.terminal import render
from bot.core.messages import Outgoing
from bot.storage import families, tickets
from bot.translation import FakeTranslator
from bot.understanding.language import LanguageDetector
from support import msg

LANGS = ["en", "es", "zh", "vi", "ar", "ht", "so", "pt", "ru"]

# Short messages as parents write them (our own lines), with their language.
SHORT = [
    ("en", "my daughter is sick today"), ("en", "when does school start tomorrow"),
    ("es", "mi hija esta enferma hoy"), ("es", "a que hora sale el camion"),
    ("zh", "孩子今天生病了"), ("zh", "校车几点到"),
    ("vi", "con tôi bị ốm hôm nay"), ("vi", "mấy giờ tan học"),
    ("ar", "ابني مريض اليوم"), ("ar", "متى تبدأ المدرسة"),
    ("ht", "pitit mwen malad jodi a"), ("ht", "ki lè lekòl la kòmanse"),
    ("so", "wiilkayga waa jiran yahay maanta"), ("so", "goorma ayuu baska yimaadaa"),
    ("pt", "meu filho está doente hoje"), ("pt", "que horas começa a escola"),
    ("ru", "мой сын сегодня болеет"), ("ru", "когда начинаются уроки"),
]


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    from bot.config import REPO_ROOT, load_school_profile
    from bot.understanding.catalog import load_catalog

    profile = load_school_profile(REPO_ROOT / "sample_school" / "school.toml")
    return LanguageDetector(profile.languages, load_catalog(REPO_ROOT / "intents", profile.info).examples_by_language())


@pytest.mark.parametrize("lang,text", SHORT)
def test_detection_is_right_or_abstains(detector, lang, text):
    found = detector.detect(text)
    assert found.language in (lang, None), found
    if found.language is None:
        return
    assert found.confidence > 0


def test_detection_is_never_confidently_wrong(detector):
    wrong = [(lang, text, d) for lang, text in SHORT
             if (d := detector.detect(text)).language not in (lang, None) and d.confidence >= 0.5]
    assert not wrong


@pytest.mark.parametrize("text", ["ok", "👍", "asdf qwer zxcv", "glarb wibble quux", "Maple Grove", "1234"])
def test_noise_is_not_a_language(detector, text):
    assert detector.detect(text).language in (None, "en")


async def test_hint_sets_the_first_language_and_curated_spanish_is_used(engine):
    [welcome] = await engine.handle(msg("/start", hint="es-MX"))
    assert welcome.language == "es" and not welcome.machine_translated
    assert "Maple Grove" in welcome.text and "welcome to" not in welcome.text.lower()
    [hours] = await engine.handle(msg(payload="intent:school_hours"))
    assert "8:10" in hours.text and hours.language == "es"


async def test_explicit_choice_wins_over_detection(engine):
    await engine.handle(msg("/language"))
    await engine.handle(msg(payload="lang:en"))
    replies = await engine.handle(msg("buenos dias, mi hijo tiene fiebre y no va a ir a la escuela hoy"))
    assert all(r.language == "en" for r in replies)
    assert not any("?" in r.text and "Español" in r.text for r in replies)  # no offer to switch


async def test_long_confident_message_switches_language(app, engine):
    await engine.handle(msg("/start"))
    [reply] = await engine.handle(msg("buenos dias, mi hijo tiene fiebre desde anoche y hoy no va a ir a la escuela"))
    assert reply.language == "es"
    fam = await app.db.run(families.find, "test", "p1")
    assert (fam.language, fam.language_source) == ("es", "detected")


async def test_short_message_in_another_language_asks_first(app, engine):
    await engine.handle(msg("/start"))
    replies = await engine.handle(msg("el camion no llego"))
    assert replies[0].language == "en"  # answered in the family's language…
    question = replies[-1]
    assert any(c.payload == "lang:es" for c in question.choices)  # …then asked, once
    assert "español" in question.text.lower()
    [done] = await engine.handle(msg(payload="lang:es"))
    assert done.language == "es"
    again = await engine.handle(msg("el camion no llego"))
    assert not any(c.payload.startswith("lang:") for r in again for c in r.choices)


async def test_code_switched_message_is_understood(engine):
    [reply] = (await engine.handle(msg("my hijo is sick hoy, no va a la escuela")))[:1]
    assert "absence:quit" in [c.payload for c in reply.choices]  # the absence report (bot/flows/absence.py)


def without_curated(tmp_path, settings, intent_id: str, *languages: str):
    """Settings whose locale catalogs lack the curated answer of `intent_id` in `languages`
    (every shipped answer is curated, and these tests are about what happens when one is not)."""
    import shutil
    from dataclasses import replace

    from babel.messages.pofile import read_po, write_po

    from bot.config import REPO_ROOT
    from bot.understanding.catalog import load_catalog

    answer = load_catalog(REPO_ROOT / "intents", {}).intents[intent_id].answer
    target = tmp_path / "locales"
    shutil.copytree(REPO_ROOT / "locales", target)
    for lang in languages:
        path = target / lang / "LC_MESSAGES" / "bot.po"
        with path.open("rb") as fh:
            po = read_po(fh, locale=lang)
        po[answer].string = ""
        with path.open("wb") as fh:
            write_po(fh, po, width=100)
    return replace(settings, locales_dir=target)


async def test_machine_translation_fills_in_where_nothing_is_curated(settings, tmp_path):
    translator = FakeTranslator(languages=LANGS)
    app = await start(without_curated(tmp_path, settings, "dress_code", "vi"), translator=translator)
    try:
        await app.engine.handle(msg("/language"))
        await app.engine.handle(msg(payload="lang:vi"))
        [reply] = await app.engine.handle(msg("do kids have to wear uniforms"))
        assert reply.machine_translated and reply.text.startswith("[vi] ")
        assert reply.language == "vi"
    finally:
        await app.close()


async def test_no_model_and_no_curated_answer_gives_english_and_an_interpreter_flag(settings, tmp_path):
    app = await start(without_curated(tmp_path, settings, "dress_code", "so"))
    try:
        await _english_and_interpreter(app, app.engine)
    finally:
        await app.close()


async def _english_and_interpreter(app, engine):
    await engine.handle(msg("/language"))
    await engine.handle(msg(payload="lang:so"))
    [reply] = await engine.handle(msg("do kids have to wear uniforms"))
    assert reply.language == "so" and not reply.machine_translated
    assert "uniform" in reply.text.lower()  # the English answer, never silence
    await engine.handle(msg("/human"))
    [ticket] = await app.db.run(tickets.list_open)
    assert ticket.interpreter == "Somali"


async def test_parent_words_reach_staff_in_english_with_the_original(settings):
    app = await start(settings, translator=FakeTranslator(languages=LANGS))
    try:
        await app.engine.handle(msg("/language"))
        await app.engine.handle(msg(payload="lang:vi"))
        await app.engine.handle(msg("con tôi bị bắt nạt ở trường"))
        await app.engine.handle(msg("/human"))
        rows = await app.db.run(lambda c: c.execute(
            "SELECT text, language, translation FROM ticket_events ORDER BY id").fetchall())
        assert any(r[1] == "vi" and r[2] and r[2].startswith("[en] ") for r in rows), rows
        [ticket] = await app.db.run(tickets.list_open)
        assert ticket.interpreter is None  # the model carries Vietnamese both ways
    finally:
        await app.close()


def test_arabic_is_isolated_right_to_left_in_the_terminal():
    text = "اتصل بالمكتب على (951) 555-0142"
    out = render(Outgoing("terminal", "c", text, language="ar"))
    assert f"\u2067{text}\u2069" in out  # whole, in an RTL isolate; our prefix stays outside
    assert out.startswith("Homeroom: ")
    assert render(Outgoing("terminal", "c", "hello", language="en")) == "Homeroom: hello"


# English as parents text it: lingua alone reads several of these as Spanish or Portuguese.
ENGLISH_TEXTING = [
    "my kid is sik tmrw wont b in", "r u open tmrw", "pls call me asap", "wat time is pickup 2day",
    "no school 2morow?", "kid sick 2day wont b in", "hw due tmrw?", "can u call me back pls",
    "my son has dr appt 2day", "is there skool tmrw", "thx 4 the info", "she wont b at schl 2day",
    "r the buses late", "im gonna pick him up early", "do u have lunch menu", "ok thx", "idk his teacher name",
]
# Short messages in other languages that must still be recognised (and so still offer a switch).
SHORT_OTHER = [
    ("es", "gracias"), ("es", "mi hijo esta enfermo"), ("es", "el camion no llego"), ("es", "mi hija no va hoy"),
    ("es", "dónde está la oficina"), ("ht", "pitit mwen malad"), ("ht", "Kilè otobis la ap pase?"),
    ("so", "wiilkaygu wuu jiran yahay"), ("pt", "meu filho esta doente"), ("vi", "con tôi bị ốm"),
    ("ru", "сын болеет"), ("zh", "孩子生病了"), ("ar", "ابني مريض"),
    # words every language borrows ("ok", "bus") do not make a message English
    ("so", "ok mahadsanid"), ("so", "bus ka wuu daahay"), ("es", "ok gracias"), ("ru", "ok спасибо"),
]


@pytest.mark.parametrize("text", ENGLISH_TEXTING)
def test_english_texting_is_not_another_language(detector, text):
    assert detector.detect(text).language in ("en", None)


@pytest.mark.parametrize("lang,text", SHORT_OTHER)
def test_short_messages_in_other_languages_are_still_recognised(detector, lang, text):
    assert detector.detect(text).language == lang


@pytest.mark.parametrize("text", ENGLISH_TEXTING)
async def test_english_texting_gets_no_offer_to_switch(engine, text):
    await engine.handle(msg("/start"))
    replies = await engine.handle(msg(text))
    assert all(r.language == "en" for r in replies)
    assert not any(c.payload.startswith("lang:") for r in replies for c in r.choices), [r.text for r in replies]


@pytest.mark.parametrize("lang,text", [x for x in SHORT_OTHER if x[1] != "gracias"])
async def test_short_messages_in_other_languages_still_offer_a_switch(engine, lang, text):
    await engine.handle(msg("/start"))
    replies = await engine.handle(msg(text))
    assert any(c.payload == f"lang:{lang}" for r in replies for c in r.choices) or replies[0].language == lang


async def test_creole_settles_on_the_second_creole_message(app, engine):
    await engine.handle(msg("/start"))
    first = await engine.handle(msg("Kilè otobis la ap pase?"))
    assert any(c.payload == "lang:ht" for r in first for c in r.choices)  # asked once, in Creole
    [second, *_] = await engine.handle(msg("pitit mwen malad jodi a"))
    assert second.language == "ht"  # writing Creole again settles it, no second English answer
    fam = await app.db.run(families.find, "test", "p1")
    assert (fam.language, fam.language_source) == ("ht", "detected")
    [third, *_] = await engine.handle(msg("ki lè lekòl la fèmen jodi a"))
    assert third.language == "ht"


async def test_declining_a_language_is_not_overridden_by_writing_it_again(app, engine):
    await engine.handle(msg("/start"))
    await engine.handle(msg("el camion no llego"))
    await engine.handle(msg(payload="keeplang:es"))
    replies = await engine.handle(msg("el camion no llego"))
    assert replies[0].language == "en"


async def test_spanish_offer_names_the_language_in_lowercase(engine):
    await engine.handle(msg("/start"))
    replies = await engine.handle(msg("el camion no llego"))
    assert "¿Quiere que le responda en español?" in replies[-1].text

