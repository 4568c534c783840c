"""Catalog quality for authors: confusable example pairs and cross-validated accuracy."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
from rapidfuzz import fuzz, process

from bot.understanding.catalog import OUT_OF_SCOPE, Catalog, Problem
from bot.understanding.matcher import Matcher, MatcherConfig
from bot.understanding.normalize import normalize

# Two examples of different intents this similar (token-sorted character ratio, 0..100)
# are matched to either intent with about the answer threshold's confidence.
CONFUSABLE_RATIO = 90.0


def confusable_pairs(catalog: Catalog, cutoff: float = CONFUSABLE_RATIO) -> list[Problem]:
    """Warnings for pairs of examples of different intents that look alike to the matcher."""
    items = [(intent.id, ex) for intent in catalog.intents.values() for ex in intent.examples]
    texts = [" ".join(sorted(normalize(ex.text).split())) for _, ex in items]
    if not texts:
        return []
    sims = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8, workers=-1)
    problems = []
    rows, cols = np.nonzero(sims)
    for a, b in zip(rows.tolist(), cols.tolist()):
        if a >= b or items[a][0] == items[b][0] or len(texts[a]) < 8:
            continue
        (ia, ea), (ib, eb) = items[a], items[b]
        problems.append(Problem(eb.file, eb.line, (
            f"confusable: {eb.text!r} ({ib}) looks like {ea.text!r} ({ia}, {ea.file}:{ea.line}); "
            "reword one of them"), severity="warning"))
    return problems


def cross_validate(catalog: Catalog, folds: int = 10, languages: tuple[str, ...] | None = None,
                   config: MatcherConfig | None = None, seed: int = 7) -> dict[str, tuple[int, int]]:
    """k-fold accuracy per language: each example classified by a matcher built without its fold.
    (Exact leave-one-out would rebuild the index once per example; k folds approximate it.)"""
    items = [(intent.id, ex) for intent in catalog.intents.values() for ex in intent.examples
             if languages is None or ex.language in languages]
    random.Random(seed).shuffle(items)
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for k in range(folds):
        held = items[k::folds]
        matcher = Matcher(catalog, config, exclude={(i, ex.text) for i, ex in held})
        for intent_id, ex in held:
            result = matcher.classify(ex.text, ex.language)
            expected = None if intent_id == OUT_OF_SCOPE else intent_id
            total[ex.language] += 1
            right[ex.language] += result.intent == expected
    return {lang: (right[lang], total[lang]) for lang in sorted(total, key=lambda l: -total[l])}


def meaning_confusions(matcher, limit: int = 25) -> list[Problem]:
    """Warnings for pairs of intents the semantic model cannot keep apart: examples of one that,
    cross-validated (the model trained without them), would be answered with the other."""
    fitted = getattr(matcher, "fitted", None)
    if fitted is None:
        return []
    out = []
    for mine, chosen, count, example in fitted.confusions[:limit]:
        where, _, text = example.partition(": ")
        file, _, line = where.rpartition(":")
        what = "everyday request" if mine == OUT_OF_SCOPE else f"'{mine}'"
        out.append(Problem(file, int(line) if line.isdigit() else 0, (
            f"confusable by meaning: {count} example(s) of {what} would be answered as '{chosen}', "
            f"e.g. {text}; add examples that show the difference, or move this one"), severity="warning"))
    return out


def semantic_stats_report(catalog: Catalog, matcher) -> str:
    """The real pipeline's cross-validated figures per language, and how to read them."""
    fitted, t = matcher.fitted, matcher.fitted.thresholds
    per_lang: Counter[str] = Counter(ex.language for intent in catalog.intents.values() for ex in intent.examples)
    bank: Counter[str] = Counter(ex.language for ex in catalog.out_of_domain)
    lines = [f"intents: {len(catalog.intents)}",
             f"examples: {sum(per_lang.values())} (" + ", ".join(f"{l} {n}" for l, n in per_lang.most_common()) + ")",
             f"everyday requests (intents/out_of_domain): {sum(bank.values())} (" +
             ", ".join(f"{l} {n}" for l, n in bank.most_common()) + ")",
             f"matcher: semantic ({fitted.encoder_name}); answers from confidence {t.answer:.2f}",
             "",
             f"{fitted.config.folds}-fold cross-validation of the whole pipeline. Each example is classified by a "
             "model trained without it. 'right': answered with its own intent; 'top-3': its intent "
             "among the first three buttons; 'wrong': answered with another intent; 'everyday': "
             "everyday requests that got a school answer (should be ~0). Catalog examples are "
             "deliberately varied, so these run a little below what parents' real questions get; "
             "a language far below the others needs more examples.",
             f"  {'lang':4} {'questions':>9} {'right':>7} {'top-3':>7} {'wrong':>7} {'everyday':>9}"]
    for lang, cv in fitted.cv.items():
        lines.append(f"  {lang:4} {cv['questions']:9d} {100 * cv['right']:6.1f}% {100 * cv['top3']:6.1f}% "
                     f"{100 * cv['wrong']:6.1f}% {100 * cv['everyday_answered']:8.1f}%")
    lines.append(f"  all  {sum(c['questions'] for c in fitted.cv.values()):9d} {100 * t.cv_top1:6.1f}%"
                 f" {'':7} {100 * t.cv_wrong:6.1f}% {100 * t.cv_everyday_answered:8.1f}%")
    return "\n".join(lines)


def stats_report(catalog: Catalog) -> str:
    per_lang: Counter[str] = Counter()
    for intent in catalog.intents.values():
        for ex in intent.examples:
            per_lang[ex.language] += 1
    lines = [f"intents: {len(catalog.intents)}",
             f"examples: {sum(per_lang.values())} (" +
             ", ".join(f"{lang} {n}" for lang, n in per_lang.most_common()) + ")",
             "", "10-fold cross-validated accuracy (answered with the right intent; out-of-scope "
             "examples count as right when not answered):"]
    scores = cross_validate(catalog)
    all_right = sum(r for r, _ in scores.values())
    all_total = sum(t for _, t in scores.values())
    for lang, (r, t) in scores.items():
        lines.append(f"  {lang:4} {100 * r / t:5.1f}%  ({r}/{t})")
    lines.append(f"  all  {100 * all_right / max(all_total, 1):5.1f}%  ({all_right}/{all_total})")
    return "\n".join(lines)
