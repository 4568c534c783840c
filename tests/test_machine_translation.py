"""Machine translation, offline, through the real path: a tiny real .argosmodel (random weights)
is built here, installed with ArgosTranslator.install_file into a temporary argos directory and
run package -> sentencepiece -> CTranslate2 -> detokenize. Its output is gibberish: these tests
check the plumbing (the model ran, protected spans survived, the cache hit, failures fall back),
not the words.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from bot.translation import machine
from bot.translation.machine import (
    ArgosTranslator,
    FakeTranslator,
    PackageError,
    Translation,
    Translator,
    split_sentences,
    split_text,
)
from bot.translation.protect import placeholder, protect, restore
from fakes.argos_model import build_tiny_argosmodel

GLOSSARY = ["PTA", "Title I", "ParentVUE", "Riverside Elementary"]
PAIRS = [("en", "es"), ("es", "en"), ("en", "fr")]
MESSAGE = ("Hello! The PTA meets at 8:10 AM in the gym. Details: https://riverside.example.org/pta?x=1 "
           "or call (951) 555-0142, or write to office@riverside.example.org. Log in to ParentVUE.")
PROTECTED = ["https://riverside.example.org/pta?x=1", "(951) 555-0142", "office@riverside.example.org",
             "8:10 AM", "PTA", "ParentVUE"]


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def model_files(tmp_path_factory) -> dict[tuple[str, str], Path]:
    workdir = tmp_path_factory.mktemp("argosmodels")
    return {pair: build_tiny_argosmodel(workdir, *pair) for pair in PAIRS}


@pytest.fixture(scope="session")
def argos_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data") / "argos"


@pytest.fixture(scope="session")
def argos_imported_before() -> bool:
    return "argostranslate.settings" in sys.modules


@pytest.fixture(scope="session")
def translator(model_files, argos_dir, argos_imported_before):
    tr = ArgosTranslator(argos_dir, GLOSSARY, max_decoding_length=16)
    for path in model_files.values():
        tr.install_file(path)
    yield tr
    tr.close()


def model_calls(tr: ArgosTranslator, pair: str) -> int:
    return tr.stats()["models"].get(pair, {}).get("model_calls", 0)


# --------------------------------------------------------------------------- protect / restore

def test_protect_replaces_and_restore_puts_back():
    text = ("Visit https://example.org/a_b?x=1 (or www.example.org). Call (951) 555-0142 or 951-555-0142 "
            "by 8:10 AM or 14:30 on 2026-11-26, 11/26/2026 or November 26. Mail office@example.org. "
            "The pta and Title I at Riverside Elementary; Title II stays.")
    protected, mapping = protect(text, GLOSSARY)
    assert set(mapping.values()) == {
        "https://example.org/a_b?x=1", "www.example.org", "(951) 555-0142", "951-555-0142", "8:10 AM",
        "14:30", "2026-11-26", "11/26/2026", "November 26", "office@example.org", "pta", "Title I",
        "Riverside Elementary"}
    for value in set(mapping.values()) - {"Title I"}:
        assert value not in protected
    assert protected.count("Title I") == 1 and "Title II" in protected  # whole words only
    assert protected.endswith("stays.") and "(or XQX" in protected and ")." in protected  # punctuation kept out
    assert restore(protected, mapping) == text


def test_protect_without_anything_to_protect():
    assert protect("My son is sick today.", GLOSSARY) == ("My son is sick today.", {})
    assert restore("Mi hijo está enfermo.", {}) == "Mi hijo está enfermo."


def test_restore_tolerates_what_models_do_to_tokens():
    mapping = {placeholder(0): "(951) 555-0142", placeholder(1): "8:10 AM", placeholder(2): "PTA"}
    # spaces inside the token, lower case, glued to a word, another script's digits
    assert restore("Llame al xqx 0 xqx hoy a las XQX١XQX.", mapping) == "Llame al (951) 555-0142 hoy a las 8:10 AM. PTA"
    assert restore("la XQX2XQXreunión", mapping).startswith("la PTA reunión")
    # an invented token is dropped; lost ones are appended in order
    assert restore("Hola XQX7XQX amigo.", mapping) == "Hola amigo. (951) 555-0142 8:10 AM PTA"
    assert restore("", mapping) == "(951) 555-0142 8:10 AM PTA"


def test_text_that_already_looks_like_a_placeholder_comes_back_unchanged():
    text = "Code XQX3XQX and call 951-555-0142."
    protected, mapping = protect(text)
    assert restore(protected, mapping) == text


def test_placeholders_survive_the_packages_sentencepiece(model_files, tmp_path):
    import sentencepiece as spm

    with zipfile.ZipFile(model_files[("en", "es")]) as zf:
        zf.extractall(tmp_path)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "translate-en_es" / "sentencepiece.model"))
    protected, mapping = protect(MESSAGE, GLOSSARY)
    assert len(mapping) == len(PROTECTED)
    for token in mapping:
        assert sp.unk_id() not in sp.encode(token)
        assert sp.decode(sp.encode(token, out_type=str)) == token
    assert restore(sp.decode(sp.encode(protected, out_type=str)), mapping) == MESSAGE


def test_sentence_splitting_keeps_paragraphs():
    assert split_sentences("Hi. Dr. Lee called! Is it ok? Yes") == ["Hi.", "Dr. Lee called!", "Is it ok?", "Yes"]
    assert split_sentences("你好。我的孩子生病了！") == ["你好。", "我的孩子生病了！"]
    assert split_sentences("مرحبا؟ شكرا") == ["مرحبا؟", "شكرا"]
    assert split_text("One. Two.\n\nThree") == [["One.", "Two."], [], ["Three"]]


# --------------------------------------------------------------------------- the real path

def test_import_is_lazy():
    code = ("import sys, bot.translation.machine, bot.translation; "
            "print(sorted(m for m in ('argostranslate', 'torch', 'ctranslate2', 'sentencepiece', 'stanza') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"


def test_available_without_importing():
    assert ArgosTranslator.available() is True


def test_install_and_list(translator, argos_dir, argos_imported_before):
    assert translator.installed_pairs() == sorted(PAIRS)
    assert {p.name for p in (argos_dir / "packages").iterdir()} == {f"translate-{a}_{b}" for a, b in PAIRS}
    assert translator.can_translate("en", "es") and translator.can_translate("es-MX", "EN")
    assert translator.can_translate("es", "fr")          # pivot through English
    assert not translator.can_translate("so", "en") and not translator.can_translate("fr", "es")
    assert translator.can_translate("so", "so")
    if not argos_imported_before:  # argostranslate's own directories went under our data dir
        from argostranslate import settings

        for d in (settings.data_dir, settings.config_dir, settings.cache_dir, settings.package_data_dir):
            assert Path(d).resolve().is_relative_to(argos_dir.resolve())
        assert "ARGOS_PACKAGES_DIR" not in __import__("os").environ  # environment restored


def test_install_file_rejects_bad_files(translator, tmp_path):
    not_zip = tmp_path / "x.argosmodel"
    not_zip.write_text("hello")
    with pytest.raises(PackageError, match="zip"):
        translator.install_file(not_zip)
    with pytest.raises(PackageError, match="no such file"):
        translator.install_file(tmp_path / "missing.argosmodel")
    no_meta = tmp_path / "nometa.argosmodel"
    with zipfile.ZipFile(no_meta, "w") as zf:
        zf.writestr("pkg/model/model.bin", b"x")
    with pytest.raises(PackageError, match="metadata.json"):
        translator.install_file(no_meta)
    assert translator.installed_pairs() == sorted(PAIRS)


async def test_translates_through_the_real_model(translator):
    before = model_calls(translator, "en-es")
    result = await translator.translate(MESSAGE, "en", "es")
    assert isinstance(result, Translation)
    assert result.ok and result.machine and result.note is None
    assert (result.source, result.target) == ("en", "es")
    assert model_calls(translator, "en-es") == before + 1     # CTranslate2 ran
    assert result.text != MESSAGE
    for value in PROTECTED:
        assert value in result.text, value
    assert "XQX" not in result.text.upper()


async def test_paragraph_breaks_are_kept(translator):
    result = await translator.translate("Good morning.\n\nSee you on Monday.\nThanks.", "en", "es")
    assert result.ok and result.text.count("\n") == 3 and "\n\n" in result.text


async def test_second_identical_call_hits_the_cache(translator):
    text = "Is there school on Friday?"
    first = await translator.translate(text, "en", "es")
    stats = translator.stats()
    calls = model_calls(translator, "en-es")
    second = await translator.translate(text, "en", "es")
    after = translator.stats()
    assert second == first
    assert model_calls(translator, "en-es") == calls
    assert after["pairs"]["en-es"]["cache_hits"] == stats["pairs"]["en-es"]["cache_hits"] + 1
    assert after["cache"]["hits"] == stats["cache"]["hits"] + 1
    model = after["models"]["en-es"]
    assert model["model_bytes"] > 0 and model["sentences"] >= 1


async def test_concurrent_identical_requests_share_one_model_call(translator):
    text = "The bus is late again, sorry."
    before = model_calls(translator, "en-es")
    results = await asyncio.gather(*(translator.translate(text, "en", "es") for _ in range(5)))
    assert len({r.text for r in results}) == 1 and all(r.ok for r in results)
    assert model_calls(translator, "en-es") == before + 1


async def test_pivot_through_english(translator):
    es_en, en_fr = model_calls(translator, "es-en"), model_calls(translator, "en-fr")
    result = await translator.translate("Hola, la reunión es a las 8:10 AM con la PTA.", "es", "fr")
    assert result.ok and result.machine and (result.source, result.target) == ("es", "fr")
    assert model_calls(translator, "es-en") == es_en + 1 and model_calls(translator, "en-fr") == en_fr + 1
    assert "8:10 AM" in result.text and "PTA" in result.text


async def test_same_language_and_empty_text_pass_through(translator):
    assert await translator.translate("Hola", "es", "es-MX") == Translation("Hola", "es", "es", machine=False)
    assert (await translator.translate("  ", "en", "es")).text == "  "


async def test_unsupported_pair_falls_back_and_logs_once(translator, caplog):
    caplog.set_level(logging.WARNING, logger="bot.translation.machine")
    results = [await translator.translate(f"Message {i}.", "so", "vi") for i in range(3)]
    for i, r in enumerate(results):
        assert r.text == f"Message {i}." and r.ok is False and r.machine is False
        assert "no translation model for so→vi" in r.note
    logged = [rec for rec in caplog.records if "so→vi" in rec.getMessage()]
    assert len(logged) == 1
    assert translator.stats()["pairs"]["so-vi"]["failures"] == 3


async def test_broken_model_falls_back_and_logs_once(model_files, tmp_path, caplog):
    # A package whose CTranslate2 model is damaged, in a second data dir of the same process.
    good = model_files[("en", "es")]
    bad = tmp_path / "translate-en_ru.argosmodel"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            name = item.filename.replace("translate-en_es", "translate-en_ru")
            data = src.read(item)
            if name.endswith("metadata.json"):
                meta = json.loads(data)
                meta.update(to_code="ru", to_name="ru")
                data = json.dumps(meta).encode()
            elif name.endswith("model.bin"):
                data = b"this is not a model"
            dst.writestr(name, data)
    tr = ArgosTranslator(tmp_path / "argos", max_decoding_length=8)
    try:
        assert tr.install_file(bad) == ("en", "ru")
        assert tr.installed_pairs() == [("en", "ru")]
        caplog.set_level(logging.WARNING, logger="bot.translation.machine")
        results = [await tr.translate(f"Hello {i}.", "en", "ru") for i in range(3)]
        assert all(r.ok is False and r.text == f"Hello {i}." and "failed to load" in r.note
                   for i, r in enumerate(results))
        assert len([rec for rec in caplog.records if "en→ru" in rec.getMessage()]) == 1
    finally:
        tr.close()


async def test_without_the_extra_everything_falls_back(monkeypatch, tmp_path):
    monkeypatch.setattr(machine.importlib.util, "find_spec", lambda name, *a: None)
    tr = ArgosTranslator(tmp_path / "argos")
    assert tr.available() is False and tr.installed_pairs() == [] and not tr.can_translate("en", "es")
    result = await tr.translate("Hello.", "en", "es")
    assert result.ok is False and result.text == "Hello." and "homeroom[translate]" in result.note


async def test_the_event_loop_keeps_running_during_a_translation(translator, argos_dir, monkeypatch):
    """Shown by events, not seconds: the real model call waits until the event loop has run several
    more steps while it is in progress, which it could never do if it ran on the loop."""
    loop_thread = threading.get_ident()
    in_model, loop_ran = threading.Event(), threading.Event()
    seen: dict = {}
    real = machine._LoadedModel.translate

    def observed(self, *args, **kwargs):
        seen["thread"] = threading.get_ident()
        in_model.set()
        seen["loop_ran"] = loop_ran.wait(timeout=30)  # a hang guard: never reached when it works
        return real(self, *args, **kwargs)

    monkeypatch.setattr(machine._LoadedModel, "translate", observed)

    async def other_families():
        while not in_model.is_set():
            await asyncio.sleep(0.001)
        for _ in range(5):  # the loop keeps going while the model is busy
            await asyncio.sleep(0)
        loop_ran.set()

    slow = ArgosTranslator(argos_dir, max_decoding_length=32)
    others = asyncio.create_task(other_families())
    try:
        result = await slow.translate(" ".join(f"Sentence number {i} is here." for i in range(6)), "en", "es")
        stats = slow.stats()
    finally:
        slow.close()
    await asyncio.wait_for(others, 5)
    assert result.ok and stats["models"]["en-es"]["model_calls"] == 1
    assert seen == {"thread": seen["thread"], "loop_ran": True} and seen["thread"] != loop_thread


# --------------------------------------------------------------------------- FakeTranslator

async def test_fake_translator():
    fake = FakeTranslator(languages={"en", "es", "zh"})
    assert isinstance(fake, Translator) and isinstance(ArgosTranslator(Path("unused")), Translator)
    assert await fake.translate("Hello", "en", "es") == Translation("[es] Hello", "en", "es", machine=True)
    assert (await fake.translate("你好", "zh", "en")).text == "[en] 你好"
    unsupported = await fake.translate("Salaan", "so", "en")
    assert unsupported.ok is False and unsupported.text == "Salaan"
    assert (await fake.translate("Hola", "es", "es")).machine is False
    assert fake.call_count == 3 and fake.calls[0] == ("Hello", "en", "es")
    assert fake.can_translate("es", "zh") and not fake.can_translate("so", "en")


async def test_fake_translator_delay_does_not_block_the_loop():
    """Both calls are in worker threads at the same time (a barrier only two concurrent callers
    pass), and neither is on the event loop's thread."""
    fake = FakeTranslator(delay=1.0, blocking=True)
    both = threading.Barrier(2, timeout=30)
    threads: set[int] = set()

    def work(_seconds: float) -> None:
        threads.add(threading.get_ident())
        both.wait()

    fake._sleep = work
    try:
        results = await asyncio.gather(fake.translate("a", "en", "es"), fake.translate("b", "en", "es"))
    finally:
        fake.close()
    assert [r.text for r in results] == ["[es] a", "[es] b"]
    assert len(threads) == 2 and threading.get_ident() not in threads


async def test_warm_up_loads_pairs_off_the_loop(translator):
    await translator.warm_up([("es", "fr")])
    assert {"es-en", "en-fr"} <= set(translator.stats()["models"])
