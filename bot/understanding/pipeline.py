"""Which matcher a running Homeroom uses, built from the catalog and the settings, and the
understanding snapshot around it (start-up and `homeroom reload` both build it here).

The semantic matcher (bot/understanding/semantic.py) when the bundled model loads; otherwise the
lexical one (matcher.py), with the reason kept for `homeroom status` and the start-up log. The
encoder is loaded once per process and shared by every rebuild (`homeroom reload`).
"""

from __future__ import annotations

import logging
from functools import lru_cache

from bot.config import SchoolProfile, Settings
from bot.understanding.catalog import Catalog
from bot.understanding.embedding_cache import Progress
from bot.understanding.encoder import Encoder, EncoderStatus, load_encoder
from bot.understanding.language import LanguageDetector
from bot.understanding.matcher import Matcher, Understanding
from bot.understanding.snapshot import UnderstandingSnapshot

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def shared_encoder(setting: str, threads: int) -> tuple[Encoder | None, EncoderStatus]:
    return load_encoder(setting, threads)


def build_matcher(catalog: Catalog, settings: Settings, progress: Progress | None = None,
                  build_threads: int | None = None) -> tuple[Understanding, EncoderStatus]:
    """(matcher, status) for `catalog`. Blocking (embedding, training): call it off the event loop.
    `build_threads`: cores for this build (default `settings.batch_threads`)."""
    encoder, status = shared_encoder(settings.understanding, settings.embed_threads)
    if encoder is None:
        return Matcher(catalog), status
    from bot.understanding.semantic import build_semantic

    try:
        matcher = build_semantic(catalog, encoder, settings.understanding_cache, progress=progress,
                                 threads=build_threads or settings.batch_threads)
        matcher.burst_threads = settings.batch_threads
        return matcher, status
    except Exception as exc:  # never leave a school without answers: fall back, and say so
        log.exception("understanding.semantic_failed")
        return Matcher(catalog), EncoderStatus("lexical", None, f"the classifier could not be built ({exc})")


def build_understanding(catalog: Catalog, profile: SchoolProfile, settings: Settings,
                        progress: Progress | None = None, build_threads: int | None = None) -> UnderstandingSnapshot:
    """The snapshot of a checked `catalog`: its matcher and a language detector that knows its
    words (not warmed: the caller decides whether to wait for that). Blocking, like build_matcher."""
    matcher, status = build_matcher(catalog, settings, progress, build_threads)
    if status.backend != "semantic":
        log.warning("understanding.lexical reason=%r", status.reason)
    detector = LanguageDetector(profile.languages, catalog.examples_by_language())
    return UnderstandingSnapshot(catalog, matcher, detector, status)
