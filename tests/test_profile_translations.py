"""The school's own wording of its profile values per language ([info.<lang>] in school.toml):
a curated Spanish answer says "miércoles", not "Wednesday", in the middle of a Spanish sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import start
from bot.config import REPO_ROOT, ConfigError, Settings, load_school_profile
from bot.core.localize import Localizer, Text
from bot.core.messages import Incoming
from bot.i18n import Locales

SAMPLE = REPO_ROOT / "sample_school" / "school.toml"


def profile_with(tmp_path: Path, extra: str) -> Path:
    """The sample profile without its own [info.<lang>] tables, plus `extra`."""
    text = SAMPLE.read_text(encoding="utf-8")
    marker = text.find("\n[info.")
    path = tmp_path / "school.toml"
    path.write_text((text if marker < 0 else text[:marker + 1]) + "\n" + extra, encoding="utf-8")
    return path


async def ask(homeroom, user: str, text: str, hint: str) -> str:
    replies = await homeroom.engine.handle(Incoming("test", user, user, text, language_hint=hint))
    return replies[0].text


async def test_a_curated_answer_uses_the_schools_wording_in_that_language(tmp_path):
    path = profile_with(tmp_path, '[info.es]\nearly_release_day = "miércoles"\n')
    settings = Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "HOMEROOM_SCHOOL_PROFILE": str(path)})
    homeroom = await start(settings)
    try:
        spanish = await ask(homeroom, "es1", "¿a qué hora empieza y termina la escuela?", "es")
        english = await ask(homeroom, "en1", "what time does school start and end?", "en")
        portuguese = await ask(homeroom, "pt1", "que horas começa a aula", "pt")
    finally:
        await homeroom.close()
    assert "cada miércoles es día de salida temprano" in spanish and "Wednesday" not in spanish
    assert "every Wednesday is an early-release day" in english
    assert "Wednesday" in portuguese  # no [info.pt]: the English value stands, as before


def test_only_the_profiles_own_value_is_swapped():
    """A value passed under an [info] key that is not the profile's (e.g. a date the engine
    computed) is left alone."""
    localizer = Localizer(Locales(REPO_ROOT / "locales"), info={"office_hours": "9 to 5"},
                          info_translations={"es": {"office_hours": "de 9 a 17"}})
    assert localizer.values_in({"office_hours": "9 to 5", "x": 1}, "es") == {"office_hours": "de 9 a 17", "x": 1}
    assert localizer.values_in({"office_hours": "closed today"}, "es") == {"office_hours": "closed today"}
    assert localizer.values_in({"office_hours": "9 to 5"}, "vi") == {"office_hours": "9 to 5"}
    dotted = Localizer(Locales(REPO_ROOT / "locales"), info={"end_time": "2:50 PM"},
                       info_translations={"ht": {"end_time": "2:50 p.m."}})
    assert dotted.values_in({"end_time": "2:50 PM"}, "ht", "Lekòl fini a {end_time}.")["end_time"] == "2:50 p.m"
    assert dotted.values_in({"end_time": "2:50 PM"}, "ht", "A {end_time}, nou fèmen.")["end_time"] == "2:50 p.m." 
    assert localizer.render_now(Text("{office_hours}", {"office_hours": "9 to 5"}, kind="fixed"), "es").text == "9 to 5"


@pytest.mark.parametrize("extra, message", [
    ('[info.es]\nearly_release_dya = "miércoles"\n', r"\[info.es\] early_release_dya: not a key of \[info\]"),
    ('[info.de]\nearly_release_day = "Mittwoch"\n', r"\[info.de\]: 'de' is not one of the school's other languages"),
    ('[info.es]\nearly_release_day = ["miércoles"]\n', r"\[info.es\] values must be text; fix early_release_day"),
])
def test_a_mistake_in_a_translation_table_names_the_file_and_key(tmp_path, extra, message):
    path = profile_with(tmp_path, extra)
    with pytest.raises(ConfigError, match=message) as caught:
        load_school_profile(path)
    assert str(path) in str(caught.value)


def test_the_sample_school_translates_its_wording_into_every_language_it_offers():
    """Every offered language has an [info.<lang>] table with the same keys (a value added in
    English and forgotten in one language would show up in English there)."""
    profile = load_school_profile(SAMPLE)
    others = [code for code in profile.languages if code != "en"]
    assert sorted(profile.info_translations) == sorted(others)
    keys = {lang: set(table) for lang, table in profile.info_translations.items()}
    assert all(k == keys["es"] for k in keys.values()), {lang: keys["es"] ^ k for lang, k in keys.items()}
    assert {"office_hours", "early_release_day", "winter_break"} <= keys["es"]
