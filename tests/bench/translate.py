"""Translation benchmark.

1. With a translator that takes 500 ms per call (in a worker thread, like a real model),
   20 families hold conversations at the same time (each reads a reply, 50–300 ms, before
   typing the next), half of them needing a translation: p99 latency of the
   replies that need none (goal <= 20 ms: the event loop is never blocked).
2. Our ArgosTranslator against a raw CTranslate2 call on the tiny test model, same sentences
   (goal: wrapper overhead <= 10%), and the memory of the loaded pair.

    .venv/bin/python tests/bench/translate.py
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bot.app import start  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.messages import Incoming  # noqa: E402
from bot.translation import ArgosTranslator, FakeTranslator  # noqa: E402

EN_QUESTIONS = ["when does school start", "is the bus late", "whats for lunch", "when is winter break"]
VI_QUESTIONS = ["do kids have to wear uniforms", "how do i join the pta", "where is lost and found",
                "is there after school care"]  # answers not curated in Vietnamese: machine-translated


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def loop_not_blocked() -> None:
    translator = FakeTranslator(languages=["en", "vi"], delay=0.5, blocking=True, max_workers=4)
    with tempfile.TemporaryDirectory() as tmp:
        app = await start(Settings.from_env({"HOMEROOM_DATA_DIR": tmp}), translator=translator)
        plain: list[float] = []
        translated: list[float] = []

        async def family(i: int) -> None:
            # 20 conversations at the same time; each parent reads the reply before typing the next
            rng = random.Random(i)
            await asyncio.sleep(i * 0.02)
            vi = i % 2 == 1
            user = f"f{i}"
            if vi:
                await app.engine.handle(Incoming("bench", user, user, "/language"))
                await app.engine.handle(Incoming("bench", user, user, "", payload="lang:vi"))
            for j in range(10):
                text = (VI_QUESTIONS if vi else EN_QUESTIONS)[j % 4]
                t = time.perf_counter()
                await app.engine.handle(Incoming("bench", user, user, text))
                (translated if vi else plain).append((time.perf_counter() - t) * 1000)
                await asyncio.sleep(rng.uniform(0.05, 0.3))

        t0 = time.perf_counter()
        await asyncio.gather(*(family(i) for i in range(20)))
        print(f"20 families at once, translator 500 ms/call ({translator.call_count} calls, "
              f"{time.perf_counter() - t0:.1f} s):")
        print(f"  replies needing no translation: p50 {statistics.median(plain):.1f} ms, "
              f"p99 {pct(plain, 99):.1f} ms (goal <= 20 ms)")
        print(f"  replies needing translation:    p50 {statistics.median(translated):.0f} ms, "
              f"p99 {pct(translated, 99):.0f} ms")
        await app.close()


async def wrapper_overhead() -> None:
    from fakes.argos_model import build_tiny_argosmodel

    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_argosmodel(Path(tmp) / "build", "en", "es")
        translator = ArgosTranslator(Path(tmp) / "argos", cache_size=0, max_decoding_length=32)
        translator.install_file(model)
        sentences = [f"Please call the office about bus number {i} today." for i in range(200)]
        await translator.translate("warm up", "en", "es")
        loaded = translator._model(("en", "es"))

        def raw_call(s: str):
            return loaded.translator.translate_batch([loaded.encode(s)], beam_size=translator.beam_size,
                                                     max_decoding_length=32, replace_unknowns=True,
                                                     length_penalty=0.2)

        loop = asyncio.get_running_loop()
        executor = translator._get_executor()  # the raw call, run off the loop as any bot must
        ours: list[float] = []
        raw: list[float] = []
        for s in sentences:  # interleaved, so both see the same machine
            t = time.perf_counter()
            await translator.translate(s, "en", "es")
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            await loop.run_in_executor(executor, raw_call, s)
            raw.append(time.perf_counter() - t)
        o, r = statistics.median(ours), statistics.median(raw)
        print(f"tiny model, one sentence (median of {len(sentences)}): ours {o * 1000:.1f} ms, raw CTranslate2 "
              f"{r * 1000:.1f} ms, overhead {100 * (o - r) / r:+.1f}% (goal <= 10%)")
        for pair, info in translator.stats()["models"].items():
            print(f"  loaded pair {pair}: model {info['model_bytes'] / 1e6:.2f} MB on disk, "
                  f"RSS +{(info.get('rss_delta_bytes') or 0) / 1e6:.1f} MB when loaded, "
                  f"load {info['load_seconds']:.2f} s")
        translator.close()


if __name__ == "__main__":
    asyncio.run(wrapper_overhead())
    asyncio.run(loop_not_blocked())
