"""Reload the intent catalog and the curated translations into the running bot, no restart.

Everything new is built off the event loop (YAML, matcher, language detector, .po files), the
understanding with the same `build_understanding` start-up uses; only when the new catalog has
no errors is it swapped in. With errors, the running catalog stays and the file:line report is
returned (and logged).

The catalog, its matcher and its language detector live together in one immutable
`UnderstandingSnapshot`, held by the one `LiveUnderstanding` the app and the engine share
(`homeroom.understanding`); the swap is a single assignment to its `current`. Each turn takes
the snapshot once when it starts and reads only that (the sign-up flows too, through the turn),
so a turn that is awaiting something during a reload finishes on the old catalog and the next
one starts on the new: never half of each. Readers outside a turn (the Slack sender, the weekly
report) ask `homeroom.understanding.current` each time they need the catalog.

The curated translations are not in the snapshot: one `Locales` object is shared by the engine,
its localizer, the sign-ups, the reminders and the channels, so its contents are replaced in
place, in the same synchronous step (a turn under way may render its replies with the new ones).
The school profile is not reloaded: a change to school.toml still needs a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.core.messages import utcnow
from bot.i18n import Locales
from bot.understanding.catalog import Catalog, load_catalog
from bot.understanding.embedding_cache import progress_reporter
from bot.understanding.pipeline import build_understanding
from bot.understanding.snapshot import UnderstandingSnapshot

log = logging.getLogger("bot.ops.reload")
RESULT_NAME = "last-reload.json"  # in the data dir: what the last reload did (for `homeroom reload`)


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    report: str = ""          # file:line problems (errors, and warnings when ok)
    intents: int = 0
    examples: int = 0
    languages: tuple[str, ...] = ()   # curated translation languages now loaded
    at: str = ""

    def summary(self) -> str:
        if not self.ok:
            return f"reload refused; the running catalog is kept. Fix these and reload again:\n{self.report}"
        return (f"reloaded {self.intents} intents ({self.examples} examples) and curated translations for "
                f"{', '.join(self.languages) or 'no other language'}")


def _build(homeroom) -> tuple[Catalog, UnderstandingSnapshot | None, Locales | None, dict[str, int]]:
    """The new catalog, its understanding (None when the catalog has errors) and locales, with
    how many curated messages each language has. Runs on a worker thread."""
    settings, profile = homeroom.settings, homeroom.profile
    catalog = load_catalog(settings.intents_dir, profile.info)
    if catalog.errors:
        return catalog, None, None, {}
    # the bot keeps answering families meanwhile: leave it a core
    snapshot = build_understanding(catalog, profile, settings, progress_reporter("Learning the new catalog"),
                                   build_threads=max(1, settings.batch_threads - 1))
    snapshot.detector.warm()
    locales = Locales(settings.locales_dir)
    counts = locales.load_all()
    return catalog, snapshot, locales, counts


async def reload(homeroom) -> ReloadResult:
    """Reload the catalogs from disk and swap them into `homeroom` when they have no errors."""
    stamp = utcnow().isoformat()
    try:
        catalog, snapshot, locales, counts = await asyncio.to_thread(_build, homeroom)
    except Exception as exc:  # e.g. an unreadable .po file
        log.error("reload.failed error=%s", exc)
        return ReloadResult(False, f"{exc.__class__.__name__}: {exc}", at=stamp)
    if snapshot is None:
        log.warning("reload.refused errors=%d", len(catalog.errors))
        return ReloadResult(False, catalog.report(), at=stamp)
    homeroom.understanding.current = snapshot  # the next turn takes it; turns under way keep theirs
    homeroom.engine.locales.adopt(locales)
    if getattr(homeroom, "calendar", None) is not None:  # the school's calendar (a URL: fetched again)
        await homeroom.calendar.refresh()
    examples = sum(len(i.examples) for i in catalog.intents.values())
    languages = tuple(sorted(lang for lang, n in counts.items() if n))
    log.info("reload.done intents=%d examples=%d locales=%s", len(catalog.intents), examples,
             ",".join(languages) or "-")
    return ReloadResult(True, catalog.report(), len(catalog.intents), examples, languages, stamp)


def write_result(path: Path, result: ReloadResult) -> None:
    """Leave the outcome where `homeroom reload` (another process) can read it."""
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    tmp.write_text(json.dumps({**asdict(result), "pid": os.getpid()}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_result(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def install_reload_signal(loop: asyncio.AbstractEventLoop, homeroom,
                          on_done: Callable[[ReloadResult], None] | None = None) -> Callable[[], None]:
    """Reload on SIGHUP (what `homeroom reload` sends). Signals that arrive during a reload are
    folded into one more reload after it. Returns a function that removes the handler."""
    state = {"task": None, "again": False}
    result_path = Path(homeroom.settings.data_dir) / RESULT_NAME

    async def run() -> None:
        while True:
            state["again"] = False
            result = await reload(homeroom)
            try:
                write_result(result_path, result)
            except OSError as exc:
                log.warning("reload.result_not_written error=%s", exc)
            if on_done is not None:
                on_done(result)
            if not state["again"]:
                break

    def on_signal() -> None:
        task = state["task"]
        if task is not None and not task.done():
            state["again"] = True
            return
        log.info("reload.requested signal=SIGHUP")
        state["task"] = loop.create_task(run())

    loop.add_signal_handler(signal.SIGHUP, on_signal)
    return lambda: loop.remove_signal_handler(signal.SIGHUP)
