"""What the running bot understands, as one immutable value: the catalog, the matcher built from
it, the language detector that learned its examples, and what kind of matcher it is.

A turn takes the snapshot once (`Turn.understanding`) and reads nothing else, so a reload between
two of its awaits cannot show it half of the old catalog and half of the new. Everything that
needs the running one shares a single `LiveUnderstanding`, and `homeroom reload` replaces its
`current` in one assignment: no list of holders to keep up to date.
"""

from __future__ import annotations

import dataclasses

from bot.understanding.catalog import Catalog
from bot.understanding.encoder import EncoderStatus
from bot.understanding.language import LanguageDetector
from bot.understanding.matcher import Understanding


@dataclasses.dataclass(frozen=True)
class UnderstandingSnapshot:
    catalog: Catalog
    matcher: Understanding  # SemanticMatcher, or the lexical Matcher when the model cannot load
    detector: LanguageDetector  # knows the catalog's words per language
    status: EncoderStatus  # which matcher this is, for `homeroom status`


class LiveUnderstanding:
    """The snapshot the next turn takes; shared by the app and the engine, replaced by reload
    (bot.understanding.pipeline.build_understanding makes its snapshots)."""

    def __init__(self, current: UnderstandingSnapshot) -> None:
        self.current = current

    def replace(self, **parts) -> UnderstandingSnapshot:
        """Swap in a copy of the running snapshot with `parts` changed: how a test puts in a matcher
        of its own (`replace(matcher=...)`). Turns already under way keep the one they took."""
        self.current = dataclasses.replace(self.current, **parts)
        return self.current
