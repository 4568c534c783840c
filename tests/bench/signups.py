"""Sign-up benchmark: the real engine, store and flows on a temporary database. Prints figures only.

1. The 500-way race: 500 families at the confirm step of one 20-seat shift tap Confirm at once
   (through `engine.handle`), and the same race straight at the store (`booking.book_shift`
   through `Database.transact`): wall time and p99 per booking. Goal: <= 2 s.
2. A conference night for a 600-student school: 30 teachers x 24 slots, 600 families each
   walking the whole flow (/conference -> teacher -> day -> time -> confirm) at once, picking
   random times (so some collide and pick again): bookings/s and p99 of the confirm turn — once
   all at once (a burst: latency is queueing), once arriving evenly over --spread seconds.

    .venv/bin/python tests/bench/signups.py [--racers 500] [--seats 20] [--families 600]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.app import start  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.messages import Incoming  # noqa: E402
from bot.signups import booking, store  # noqa: E402

NOW = datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def open_app(tmp: str, definitions: str):
    folder = Path(tmp) / "signups"
    folder.mkdir()
    (folder / "bench.yaml").write_text(definitions, encoding="utf-8")
    app = await start(Settings.from_env({"HOMEROOM_DATA_DIR": str(Path(tmp) / "data"),
                                         "HOMEROOM_SIGNUPS_DIR": str(folder)}))
    app.engine.clock = lambda: NOW
    return app


def payload_of(replies, prefix: str, rng: random.Random | None = None) -> str:
    found = [c.payload for c in replies[-1].choices if c.payload.startswith(prefix)]
    if not found:
        raise RuntimeError(f"no {prefix} in {replies[-1].text!r}")
    return rng.choice(found) if rng else found[0]


async def race(racers: int, seats: int) -> None:
    definitions = f"""opportunities:
  - id: race
    title: Race
    location: Gym
    shifts:
      - {{start: 2026-12-11 09:00, end: 2026-12-11 10:00, capacity: {seats}}}
      - {{start: 2026-12-12 09:00, end: 2026-12-12 10:00, capacity: {seats}}}
"""
    with tempfile.TemporaryDirectory() as tmp:
        app = await open_app(tmp, definitions)
        try:
            handle = app.engine.handle

            async def prepare(i: int) -> Incoming:
                user = f"r{i}"
                r = await handle(Incoming("bench", user, user, "/volunteer", display_name=f"Racer {i}"))
                r = await handle(Incoming("bench", user, user, payload="volunteer:opp:race"))
                r = await handle(Incoming("bench", user, user, payload=payload_of(r, "volunteer:shift:")))
                r = await handle(Incoming("bench", user, user, payload="volunteer:name"))
                return Incoming("bench", user, user, payload=payload_of(r, "volunteer:confirm:"))

            taps = []
            for chunk in range(0, racers, 100):
                taps += await asyncio.gather(*(prepare(i) for i in range(chunk, min(racers, chunk + 100))))
            latencies: list[float] = []

            async def tap(incoming: Incoming) -> None:
                t = time.perf_counter()
                await handle(incoming)
                latencies.append((time.perf_counter() - t) * 1000)

            started = time.perf_counter()
            await asyncio.gather(*(tap(i) for i in taps))
            wall = time.perf_counter() - started
            counts = dict(await app.db.run(lambda c: c.execute(
                "SELECT status, COUNT(*) FROM signup_bookings GROUP BY status").fetchall()))
            print(f"500-way race through the engine: {racers} confirms for {seats} seats in {wall * 1000:.0f} ms "
                  f"wall; p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms per booking; "
                  f"confirmed {counts.get('confirmed', 0)}, waitlisted {counts.get('waitlisted', 0)}")

            # the same race straight at the store (no engine): the booking transaction itself
            shift_id = (await app.db.run(lambda c: c.execute(
                "SELECT id FROM signup_shifts ORDER BY id DESC LIMIT 1").fetchone()))[0]
            fams = await app.db.run(lambda c: [r[0] for r in c.execute("SELECT id FROM families ORDER BY id")])
            stamp = store.iso(NOW)
            latencies = []

            async def book(family_id: int) -> None:
                t = time.perf_counter()
                await app.db.transact(booking.book_shift, family_id, shift_id, "Racer", "en", f"k{family_id}", stamp)
                latencies.append((time.perf_counter() - t) * 1000)

            started = time.perf_counter()
            await asyncio.gather(*(book(f) for f in fams[:racers]))
            wall = time.perf_counter() - started
            print(f"500-way race at the store:       {racers} bookings for {seats} seats in {wall * 1000:.0f} ms "
                  f"wall; p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms per booking")
        finally:
            await app.close()


async def conference_night(families: int, teachers: int = 30, slots: int = 24, spread: float = 0.0) -> None:
    """All families at once (spread 0), or arriving evenly over `spread` seconds."""
    lines = ["conferences:"]
    for t in range(teachers):
        # 24 slots of 15 minutes: 13:00 to 19:00
        lines.append(f"  - {{id: t{t:02}, teacher: Teacher {t:02}, class: Class {t:02}, room: Room {t + 1}, "
                     f"languages: [en], windows: [{{date: 2027-01-12, start: '13:00', end: '19:00', "
                     f"slot_minutes: {360 // slots}}}]}}")
    with tempfile.TemporaryDirectory() as tmp:
        app = await open_app(tmp, "\n".join(lines) + "\n")
        try:
            handle = app.engine.handle
            confirm_latencies: list[float] = []
            turn_latencies: list[float] = []
            retries = 0

            async def send(user: str, text: str = "", payload: str | None = None):
                t = time.perf_counter()
                replies = await handle(Incoming("bench", user, user, text, payload=payload, display_name=user))
                turn_latencies.append((time.perf_counter() - t) * 1000)
                return replies

            async def family(i: int) -> bool:
                nonlocal retries
                rng = random.Random(i)
                user = f"f{i}"
                await asyncio.sleep(spread * i / families)
                teacher = f"t{i % teachers:02}"
                r = await send(user, f"/conference {teacher}")  # the teacher's deep link: straight to the days
                r = await send(user, payload=payload_of(r, "conference:d:"))
                for attempt in range(30):
                    r = await send(user, payload=payload_of(r, "conference:s:", rng))
                    t = time.perf_counter()
                    r = await send(user, payload=payload_of(r, "conference:confirm:"))
                    confirm_latencies.append((time.perf_counter() - t) * 1000)
                    if "is booked" in r[-1].text:
                        return True
                    retries += 1
                    if not any(c.payload.startswith("conference:s:") for c in r[-1].choices):
                        return False
                return False

            started = time.perf_counter()
            booked = await asyncio.gather(*(family(i) for i in range(families)))
            wall = time.perf_counter() - started
            rows = await app.db.run(lambda c: c.execute(
                "SELECT COUNT(*), COUNT(DISTINCT slot_id) FROM signup_bookings WHERE status = 'confirmed'").fetchone())
            when = "at once" if not spread else f"arriving over {spread:.0f} s"
            print(f"conference night: {teachers} teachers x {slots} slots, {families} families {when}: "
                  f"{sum(booked)} booked in {wall:.2f} s = {sum(booked) / wall:.0f} bookings/s "
                  f"({len(turn_latencies) / wall:.0f} turns/s); confirm p50 {pct(confirm_latencies, 50):.1f} ms, "
                  f"p99 {pct(confirm_latencies, 99):.1f} ms; any turn p99 {pct(turn_latencies, 99):.1f} ms; "
                  f"{retries} collisions re-picked; {rows[0]} bookings on {rows[1]} distinct slots")
        finally:
            await app.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--racers", type=int, default=500)
    parser.add_argument("--seats", type=int, default=20)
    parser.add_argument("--families", type=int, default=600)
    parser.add_argument("--spread", type=float, default=10.0,
                        help="second conference night: families arrive evenly over this many seconds")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    await race(args.racers, args.seats)
    await conference_night(args.families)
    await conference_night(args.families, spread=args.spread)


if __name__ == "__main__":
    asyncio.run(main())
