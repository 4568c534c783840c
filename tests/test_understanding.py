"""Understanding with the real bundled model: the encoder, its cache, the calibrated decision, the
fallback, and the event loop staying free while a message is embedded."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest

from bot.app import start
from bot.config import Settings
from bot.ops.status import gather_status
from bot.understanding import encoder as encoder_module
from bot.understanding import pipeline, semantic
from bot.understanding.catalog import load_catalog
from bot.understanding.embedding_cache import EmbeddingCache, embed_all
from bot.understanding.encoder import E5Encoder, load_encoder
from bot.understanding.matcher import Matcher
from bot.understanding.semantic import SemanticMatcher, build_semantic
from support import msg

TINY = """\
intents:
  - id: school_hours
    title: School hours
    examples:
      en: [what time does school start, when does the school day end, bell schedule, what time are doors open,
           is it an early release day, when is dismissal]
      es: [a qué hora empieza la escuela, a qué hora salen los niños, horario de clases]
    answer: School starts at 8.
  - id: lunch_menu
    title: Lunch menu
    examples:
      en: [what is for lunch today, lunch menu please, what are they serving for breakfast, is there pizza at lunch,
           menu for this week, whats for lunch tomorrow]
      es: [qué hay de almuerzo hoy, el menú del comedor, qué van a comer mañana]
    answer: Pizza.
  - id: safety_emergency
    title: Safety emergency
    examples:
      en: [someone has a gun at school, my child is missing, a man is threatening kids outside,
           there is a fight with a knife, my son is in danger, someone threatened to shoot the school]
      es: [alguien tiene un arma en la escuela, mi hijo está desaparecido, hay un hombre amenazando a los niños]
    answer: Call 911.
    action: {handoff: urgent}
  - id: out_of_scope
    title: Something else
    examples:
      en: [what is the weather tomorrow, tell me a joke, recommend a movie]
      es: [qué tiempo hace mañana, cuéntame un chiste]
"""

BANK = """\
language: en
examples: [how much is a flight to denver, my car makes a noise, best pizza place near me, what time does the bank open,
           how do i cook rice, who won the game last night, my phone battery dies fast, cheap car insurance,
           what's the capital of peru, how do i reset my router]
"""


class Counting:
    """The real encoder, counting the texts it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.texts: list[str] = []

    def embed(self, texts, threads=0):
        self.texts += list(texts)
        return self.inner.embed(texts, threads)


@pytest.fixture(scope="module")
def e5():
    encoder, status = load_encoder("auto", 1)
    assert status.backend == "semantic", status.reason
    return encoder


def tiny_catalog(root: Path, extra: str = ""):
    (root / "out_of_domain").mkdir(parents=True, exist_ok=True)
    (root / "tiny.yaml").write_text(TINY.replace("      en: [what is the weather tomorrow",
                                                 f"      en: [{extra}what is the weather tomorrow"), encoding="utf-8")
    (root / "out_of_domain" / "en.yaml").write_text(BANK, encoding="utf-8")
    catalog = load_catalog(root)
    assert not catalog.errors, catalog.report()
    return catalog


def test_the_bundled_model_loads_and_embeds_meaning_across_languages(e5):
    assert isinstance(e5, E5Encoder) and e5.dim == 384
    vectors = e5.embed(["my son is sick and will stay home", "mi hijo está enfermo y se queda en casa",
                        "what is the weather in chicago"])
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    same, other = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert same > other  # a sick child in Spanish is nearer than the weather in English


def test_the_cache_embeds_only_what_changed(e5, tmp_path):
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite3")
    counting = Counting(e5)
    first = embed_all(counting, cache, ["lunch menu", "bus stop", "report card"])
    assert counting.texts == ["lunch menu", "bus stop", "report card"]
    cache.close()

    counting.texts.clear()
    reopened = EmbeddingCache(tmp_path / "embeddings.sqlite3")  # a restart
    again = embed_all(counting, reopened, ["lunch menu", "bus route", "report card"])  # one example edited
    assert counting.texts == ["bus route"]
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[2], again[2])


def test_a_restart_neither_embeds_nor_trains_and_an_edit_embeds_only_the_new_example(e5, tmp_path):
    cache_dir = tmp_path / "cache"
    counting = Counting(e5)
    built = build_semantic(tiny_catalog(tmp_path / "a"), counting, cache_dir)
    assert len(counting.texts) == 3 * 9 + 5 + 10  # every example once (the bank included)
    semantic._fitted.clear()  # as in a new process
    counting.texts.clear()
    again = build_semantic(tiny_catalog(tmp_path / "a"), counting, cache_dir)
    assert counting.texts == [] and again.fitted.digest == built.fitted.digest
    assert list(cache_dir.glob("classifier-*.npz"))

    edited = build_semantic(tiny_catalog(tmp_path / "b", extra="play some music, "), counting, cache_dir)
    assert counting.texts == ["play some music"] and edited.fitted.digest != built.fitted.digest


def test_run_time_applies_scikit_learns_weights_exactly(e5, tmp_path):
    """linear.LinearModel replaces predict_proba and the isotonic predict at run time: the same
    probabilities and confidences, for catalog lines and for unseen, odd and empty texts."""
    from bot.understanding.semantic import SemanticConfig, TrainingSet, _calibrate, _Model

    data = TrainingSet.from_catalog(tiny_catalog(tmp_path))
    vectors = e5.embed(data.texts)
    model = _Model(SemanticConfig()).fit(data.texts, data.labels, vectors)
    probs = model.probabilities(data.texts, vectors)
    top = probs.max(axis=1)
    calibrator = _calibrate(top, np.arange(len(top)) % 3 > 0)
    runtime = model.runtime(calibrator)
    texts = ["wen does skool start??", "¿A QUÉ HORA    salen?", "🙂🙂", "", "x" * 3000, "学校几点开门",
             "someone has a gun", "pizza pizza pizza pizza"]
    both = data.texts + texts
    vecs = np.vstack([vectors, e5.embed([t or " " for t in texts])])
    assert np.allclose(runtime.probabilities(both, vecs), model.probabilities(both, vecs), atol=1e-5)
    raw = np.linspace(0, 1, 41)
    assert np.allclose(runtime.calibrate(raw), calibrator.predict(raw))

    from bot.understanding.linear import LinearModel, save_npz

    save_npz(tmp_path / "m.npz", runtime.arrays())
    with np.load(tmp_path / "m.npz", allow_pickle=False) as arrays:  # no pickle: the cache runs no code
        again = LinearModel.from_arrays(arrays)
    assert np.array_equal(again.probabilities(both, vecs), runtime.probabilities(both, vecs))


def test_a_trained_catalog_loads_without_importing_scikit_learn(e5, tmp_path):
    import subprocess
    import sys

    cache_dir = tmp_path / "cache"
    semantic._fitted.clear()  # else an earlier test's fit is reused from memory and nothing is written
    build_semantic(tiny_catalog(tmp_path / "cat"), e5, cache_dir)
    code = ("import sys; from pathlib import Path; from bot.understanding.catalog import load_catalog;"
            "from bot.understanding.encoder import load_encoder; from bot.understanding.semantic import build_semantic;"
            f"m = build_semantic(load_catalog(Path({str(tmp_path / 'cat')!r})), load_encoder('auto', 1)[0], "
            f"Path({str(cache_dir)!r})); c = m.classify('what time does school start', 'en');"
            "print(c.intent, sorted(k for k in sys.modules if k.split('.')[0] in {'sklearn', 'scipy', 'joblib'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == "school_hours []"


def test_the_decision_answers_clarifies_and_refuses(e5, tmp_path):
    matcher = build_semantic(tiny_catalog(tmp_path), e5, None)
    answered = matcher.classify("what time does school start in the morning?", "en")
    assert answered.decision == "answer" and answered.intent == "school_hours"
    assert 0 < answered.confidence <= 1
    refused = matcher.classify("how much does a flight to miami cost", "en")
    assert refused.intent is None and refused.decision == "unknown"
    assert matcher.thresholds.cv_wrong <= matcher.config.max_wrong + 1e-9  # the objective the bar was chosen for


def test_both_matchers_offer_what_the_engine_calls(e5, tmp_path):
    from bot.understanding.matcher import Understanding

    semantic_matcher = build_semantic(tiny_catalog(tmp_path), e5, None)
    assert isinstance(semantic_matcher, Understanding) and semantic_matcher.backend == "semantic"
    assert isinstance(Matcher(tiny_catalog(tmp_path / "lex")), Understanding)


def test_without_the_model_the_lexical_matcher_answers_and_status_says_so(tmp_path, monkeypatch):
    pipeline.shared_encoder.cache_clear()

    def broken(*_args, **_kwargs):
        raise OSError("model file damaged")

    monkeypatch.setattr(encoder_module, "E5Encoder", broken)
    try:
        settings = Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data")})
        matcher, status = pipeline.build_matcher(load_catalog(settings.intents_dir), settings)
        assert isinstance(matcher, Matcher) and status.backend == "lexical"
        assert "model file damaged" in status.reason
        assert matcher.classify("what time does school start", "en").intent == "school_hours"
    finally:
        pipeline.shared_encoder.cache_clear()


async def test_status_names_the_matcher_in_use(tmp_path):
    lexical = Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"), "HOMEROOM_UNDERSTANDING": "lexical"})
    app = await start(lexical)
    try:
        assert isinstance(app.understanding.current.matcher, Matcher)
        status = await gather_status(app.db, lexical, understanding=app.understanding.current.status)
        assert "LEXICAL FALLBACK: HOMEROOM_UNDERSTANDING=lexical" in status.render()
    finally:
        await app.close()


async def test_other_families_are_answered_while_a_long_message_is_embedded(app, monkeypatch):
    """Shown by events: the long message's embedding waits until another family has had its
    answer, which could never happen if embedding ran on the event loop."""
    assert isinstance(app.understanding.current.matcher, SemanticMatcher)
    encoder = app.understanding.current.matcher.encoder
    other_answered, in_embedding = threading.Event(), threading.Event()
    real = encoder.embed
    long_message = ("hi, my daughter started in second grade this year and she has been coming home "
                    "hungry every day because we get there late in the mornings, can she still get "
                    "breakfast if she gets to school late?")

    def slow_embed(texts, threads=0):
        if long_message in texts:
            in_embedding.set()
            assert other_answered.wait(timeout=30), "no other family was answered meanwhile"
        return real(texts, threads)

    monkeypatch.setattr(encoder, "embed", slow_embed)
    long_turn = asyncio.create_task(app.engine.handle(msg(long_message, user="storyteller")))
    while not in_embedding.is_set():
        await asyncio.sleep(0.001)
    replies = await app.engine.handle(msg("/start", user="other"))  # a command: nothing to embed
    assert replies and replies[0].text
    other_answered.set()
    answer = await asyncio.wait_for(long_turn, 30)
    assert answer and answer[0].text


def test_the_answer_bar_does_not_count_a_swap_between_two_urgent_intents_as_wrong():
    """Bullying read as a safety emergency (or back) hands the family to staff at once either way:
    the bar stays where the other questions put it. Every other wrong answer counts."""
    confidence = np.array([0.99, 0.95, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    right = np.array([True, False, True, True, True, True, True, True, True, True])
    in_scope = np.ones(10, bool)
    none = np.zeros(10, bool)
    strict = semantic.choose_threshold(confidence, right, in_scope, none, max_wrong=0.05)
    assert strict.answer == 0.99  # the wrong one at 0.95 stops the bar above it
    swap = np.array([False, True, False, False, False, False, False, False, False, False])
    kind = semantic.choose_threshold(confidence, right, in_scope, none, max_wrong=0.05, harmless=swap)
    assert kind.answer == 0.9 and kind.cv_top1 == 0.9


def test_the_training_set_knows_the_urgent_intents():
    from bot.config import REPO_ROOT, load_school_profile

    catalog = load_catalog(REPO_ROOT / "intents", load_school_profile(REPO_ROOT / "sample_school" / "school.toml").info)
    assert semantic.TrainingSet.from_catalog(catalog).urgent == {"bullying_report", "safety_emergency"}


async def test_an_urgent_reading_that_makes_the_bot_ask_is_always_a_button(app):
    """"The bus never came, we waited 40 minutes": bus first, a safety reading 9% likely behind it.
    The bot asks rather than answers (urgent_floor), so the safety reading must be among the
    buttons even though it is under clarify_min."""
    matcher = app.understanding.current.matcher
    assert isinstance(matcher, SemanticMatcher)
    classes, cfg = matcher.fitted.model.classes, matcher.config
    assert cfg.urgent_floor < 0.09 < cfg.clarify_min
    probs = np.full(len(classes), 0.01 / len(classes))
    probs[classes.index("transportation_bus")] = 0.85
    probs[classes.index("safety_emergency")] = 0.09
    result = matcher._decide(probs / probs.sum(), "en")
    assert result.decision == "clarify" and "safety_emergency" in result.candidate_ids, result


async def test_a_second_reading_half_as_likely_as_the_first_makes_the_bot_ask(app):
    """A long story with two questions in it (late arrival, and breakfast when late): both are
    offered as buttons, even when the first alone would clear the answer bar; a distant second
    reading does not stop the answer."""
    matcher = app.understanding.current.matcher
    assert isinstance(matcher, SemanticMatcher)
    classes, cfg = matcher.fitted.model.classes, matcher.config

    def decide(first: float, second: float):
        probs = np.full(len(classes), 0.01 / len(classes))
        probs[classes.index("late_arrival_early_pickup")] = first
        probs[classes.index("lunch_menu")] = second
        return matcher._decide(probs / probs.sum(), "en")

    alone = decide(0.90, 0.04)
    assert (alone.decision, alone.intent) == ("answer", "late_arrival_early_pickup"), alone
    both = decide(0.60, 0.60 * cfg.second_reading + 0.01)
    assert both.confidence >= matcher.thresholds.answer, both  # the first alone would be answered
    assert both.decision == "clarify" and both.candidate_ids[:2] == ["late_arrival_early_pickup", "lunch_menu"], both
