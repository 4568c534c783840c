"""Matcher benchmark: latency of one classification at ~500, ~5,000 and ~50,000 examples, beside
a naive baseline (`process.extractOne(query, all_examples, scorer=WRatio)`) on the same examples,
and both matchers' top-1 on the shared dev set when it is there.

Goals: p99 <= 1 ms at 5,000 examples; >= 5x faster than the baseline at 50,000.

    .venv/bin/python tests/bench/matcher.py [--dev ../shared/dev-questions.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz, process  # noqa: E402

from bot.config import load_school_profile  # noqa: E402
from bot.understanding.catalog import Catalog, Example, load_catalog  # noqa: E402
from bot.understanding.matcher import Matcher  # noqa: E402

QUERIES = ["my son has a fever and will stay home today", "wat time does skool start",
           "bus 12 is late again", "como pago el almuerzo de mi hija", "i forgot my portal password",
           "what's the weather in paris", "can i volunteer for the field trip", "校车几点到"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def grow(catalog: Catalog, target: int, rng: random.Random) -> Catalog:
    """Synthesize examples (shuffled, misspelled, padded variants) until the catalog has ~target."""
    intents = dict(catalog.intents)
    base = [(i, e) for i in intents for e in intents[i].examples]
    extra: dict[str, list[Example]] = {i: list(intents[i].examples) for i in intents}
    count = len(base)
    words = [w for _, e in base for w in e.text.split()]
    while count < target:
        intent_id, ex = rng.choice(base)
        tokens = ex.text.split()
        op = rng.random()
        if op < 0.3 and len(tokens) > 2:
            rng.shuffle(tokens)
        elif op < 0.6:
            k = rng.randrange(len(tokens))
            t = tokens[k]
            if len(t) > 3:
                p = rng.randrange(len(t) - 1)
                tokens[k] = t[:p] + t[p + 1] + t[p] + t[p + 2:]
        else:
            tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(words))
        extra[intent_id].append(Example(" ".join(tokens), ex.language, ex.file, ex.line))
        count += 1
    return Catalog({i: replace(intents[i], examples=tuple(extra[i])) for i in intents}, [], catalog.files)


def shrink(catalog: Catalog, target: int, rng: random.Random) -> Catalog:
    total = sum(len(i.examples) for i in catalog.intents.values())
    keep = target / total
    return Catalog({k: replace(v, examples=tuple(e for e in v.examples if rng.random() < keep) or v.examples[:1])
                    for k, v in catalog.intents.items()}, [], catalog.files)


def timed(fn, queries: list[str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", default=str(ROOT.parent / "shared" / "dev-questions.jsonl"))
    args = ap.parse_args()
    rng = random.Random(42)
    profile = load_school_profile(ROOT / "sample_school" / "school.toml")
    catalog = load_catalog(ROOT / "intents", profile.info)
    print(f"{'examples':>9} {'ours p50':>9} {'ours p99':>9} {'base p50':>9} {'base p99':>9} {'speed-up':>8} {'build':>7}")
    for target in (500, 5_000, 50_000):
        sized = shrink(catalog, target, rng) if target < 3000 else grow(catalog, target, rng)
        t = time.perf_counter()
        matcher = Matcher(sized)
        build = time.perf_counter() - t
        choices = [e.text for i in sized.intents.values() for e in i.examples]
        matcher.classify("warm up")
        ours = timed(lambda q: matcher.classify(q, "en"), QUERIES, 30 if target < 50_000 else 5)
        base = timed(lambda q: process.extractOne(q, choices, scorer=fuzz.WRatio), QUERIES, 30 if target < 50_000 else 5)
        print(f"{matcher.example_count:>9} {statistics.median(ours):>8.2f}ms {pct(ours, 99):>8.2f}ms "
              f"{statistics.median(base):>8.2f}ms {pct(base, 99):>8.2f}ms {statistics.median(base) / statistics.median(ours):>7.1f}x "
              f"{build:>6.2f}s")

    dev = Path(args.dev)
    if dev.exists():
        rows = [json.loads(l) for l in dev.read_text(encoding="utf-8").splitlines() if l.strip()]
        matcher = Matcher(catalog)
        choices = [(e.text, i.id) for i in catalog.intents.values() for e in i.examples]
        texts = [c for c, _ in choices]
        ours = base = n = 0
        for r in rows:
            if r["intent"] is None:
                continue
            n += 1
            ours += matcher.classify(r["text"], r["lang"]).intent == r["intent"]
            _, _, k = process.extractOne(r["text"], texts, scorer=fuzz.WRatio, processor=str.lower)
            base += choices[k][1] == r["intent"]
        print(f"\ntop-1 on {dev.name} ({n} in-scope lines): ours {100 * ours / n:.1f}% "
              f"(answered, after thresholds), baseline extractOne(WRatio) {100 * base / n:.1f}% (always answers)")


if __name__ == "__main__":
    main()
