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
