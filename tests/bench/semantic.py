"""Semantic matcher benchmark (prints figures, asserts nothing).

- classify latency: a short message and a 40-word one (each text new, so every call embeds);
- classify_many throughput (what `homeroom classify` does with a file);
- the first build for ~5,000 examples (embedding with an empty cache, cross-validation, fit),
  and a warm rebuild (everything from the cache);
- RSS after loading.

Goals (issue 13, 2 cores): p50 <= 25 ms short; p99 <= 60 ms at 40 words; first build timed.

    .venv/bin/python tests/bench/semantic.py [--runs 60]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.understanding.catalog import Catalog, load_catalog  # noqa: E402
from bot.understanding.encoder import load_encoder  # noqa: E402
from bot.understanding.semantic import _fitted, build_semantic  # noqa: E402

SHORT = ["what time does school start", "is the bus late", "whats for lunch", "my son is sick today",
         "lunch account balance", "winter break dates", "portal password help", "can i volunteer"]
LONG = ("hi sorry to bother you my name is maria and my daughter is in the second grade with mrs lopez "
        "and she has been feeling sick since last night with a fever so she will not come today "
        "who do i tell")  # 40 words


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def line(name: str, ms: list[float]) -> None:
    print(f"{name:34} p50 {pct(ms, 50):6.1f} ms  p90 {pct(ms, 90):6.1f}  p99 {pct(ms, 99):6.1f}  "
          f"(n={len(ms)}, min {min(ms):.1f}, max {max(ms):.1f})")


def subset(catalog: Catalog, target: int, rng: random.Random) -> Catalog:
    """The catalog cut to ~target examples (intents and bank alike), for the first-build figure."""
    total = sum(len(i.examples) for i in catalog.intents.values()) + len(catalog.out_of_domain)
    share = min(1.0, target / total)
    intents = {k: type(v)(**{**v.__dict__, "examples": tuple(e for e in v.examples if rng.random() < share)})
               for k, v in catalog.intents.items()}
    return Catalog(intents, [], [], tuple(e for e in catalog.out_of_domain if rng.random() < share))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    args = ap.parse_args()
    rng = random.Random(5)
    settings = Settings.from_env()  # HOMEROOM_CACHE_DIR, HOMEROOM_BATCH_THREADS as the bot uses them
    encoder, status = load_encoder("auto", settings.embed_threads)
    assert encoder is not None, status.reason
    threads = settings.batch_threads
    catalog = load_catalog(ROOT / "intents")
    with tempfile.TemporaryDirectory() as tmp:
        small = subset(catalog, 5000, rng)
        n = sum(len(i.examples) for i in small.intents.values()) + len(small.out_of_domain)
        started = time.perf_counter()
        build_semantic(small, encoder, Path(tmp), threads=threads)
        cold = time.perf_counter() - started
        _fitted.clear()
        started = time.perf_counter()
        build_semantic(small, encoder, Path(tmp), threads=threads)
        warm = time.perf_counter() - started
        print(f"first build, {n} examples, empty cache, {threads} build threads: {cold:.1f} s; "
              f"again from the cache: {warm:.2f} s")

    _fitted.clear()
    started = time.perf_counter()
    matcher = build_semantic(catalog, encoder, settings.understanding_cache, threads=threads)
    print(f"full catalog matcher ready in {time.perf_counter() - started:.1f} s "
          f"({matcher.example_count} examples; from {settings.understanding_cache} when built before)")
    short, long = [], []
    for i in range(args.runs):
        text = f"{rng.choice(SHORT)} {i}"  # new text each time: no vector cache hit
        t = time.perf_counter()
        matcher.classify(text, "en")
        short.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        matcher.classify(f"{LONG} {i}", "en")
        long.append((time.perf_counter() - t) * 1000)
    line("classify, short (4-6 words)", short)
    line("classify, 40 words", long)
    for name, text in (("decision only, short", SHORT[0]), ("decision only, 40 words", LONG)):
        vector = encoder.embed([text])  # embedded once: what is left runs on the event loop
        ms = []
        for _ in range(300):
            t = time.perf_counter()
            matcher._decide(matcher.fitted.model.probabilities([text], vector)[0], "en")
            ms.append((time.perf_counter() - t) * 1000)
        line(name, ms)
    texts = [f"{rng.choice(SHORT)} {i}" for i in range(200)]
    t = time.perf_counter()
    matcher.classify_many(texts, ["en"] * len(texts))
    print(f"classify_many, 200 short texts: {len(texts) / (time.perf_counter() - t):.0f} texts/s (one thread)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
