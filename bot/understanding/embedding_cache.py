"""A cache of sentence vectors on disk, keyed by model and text, so a restart embeds nothing and a
catalog edit embeds only the examples that changed.

One small SQLite file (`$HOMEROOM_CACHE_DIR/embeddings.sqlite3`), separate from the families'
database: it holds only catalog text, can be deleted at any time, and is rebuilt on demand.
Plain sqlite3, used from the worker thread that builds a matcher.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bot.understanding.encoder import Encoder

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)


def _key(model: str, text: str) -> bytes:
    return hashlib.sha1(f"{model}\0{text}".encode("utf-8")).digest()


class EmbeddingCache:
    def __init__(self, path: Path | None) -> None:
        """`path` None: in memory only (tests of the cache's absence; `homeroom classify` without a
        writable data directory)."""
        self.path = path
        target = ":memory:"
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            target = str(path)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dim INTEGER NOT NULL,"
                         " data BLOB NOT NULL) WITHOUT ROWID")

    def get_many(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        keys = {_key(model, t): t for t in dict.fromkeys(texts)}
        found: dict[str, np.ndarray] = {}
        items = list(keys)
        for start in range(0, len(items), 500):
            chunk = items[start:start + 500]
            rows = self._db.execute(f"SELECT key, dim, data FROM vectors WHERE key IN ({','.join('?' * len(chunk))})",
                                    chunk).fetchall()
            for key, dim, data in rows:
                vec = np.frombuffer(data, dtype=np.float32)
                if vec.size == dim:
                    found[keys[key]] = vec
        return found

    def put_many(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                                 [(_key(model, t), int(v.size), np.asarray(v, np.float32).tobytes())
                                  for t, v in vectors.items()])

    def close(self) -> None:
        self._db.close()


def embed_all(encoder: Encoder, cache: EmbeddingCache, texts: Sequence[str],
              progress: Progress | None = None, batch: int = 64, threads: int = 0) -> np.ndarray:
    """Vectors for `texts` (rows in order), from the cache where it has them; the rest are
    embedded in batches (on `threads` cores) and written back as they come, so an interrupted
    first build resumes, and a parent's message waits at most one batch for the encoder."""
    unique = list(dict.fromkeys(texts))
    known = cache.get_many(encoder.name, unique)
    missing = [t for t in unique if t not in known]
    if missing and progress:
        progress(0, len(missing))
    for start in range(0, len(missing), batch):
        chunk = missing[start:start + batch]
        vectors = encoder.embed(chunk, threads=threads)
        fresh = dict(zip(chunk, vectors))
        cache.put_many(encoder.name, fresh)
        known.update(fresh)
        if progress:
            progress(min(start + batch, len(missing)), len(missing))
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)


def progress_reporter(what: str, stream=None) -> Progress:
    """A progress bar on a terminal, a log line every ~10% otherwise (`homeroom run` under systemd)."""
    out = stream or sys.stderr
    tty = hasattr(out, "isatty") and out.isatty()
    state = {"last": -1, "started": time.monotonic()}

    def report(done: int, total: int) -> None:
        if total <= 0:
            return
        share = done / total
        if tty:
            bar = "#" * int(share * 30)
            out.write(f"\r{what}: [{bar:<30}] {done}/{total}")
            if done >= total:
                out.write(f"  ({time.monotonic() - state['started']:.0f} s)\n")
            out.flush()
            return
        tenth = int(share * 10)
        if tenth != state["last"]:
            state["last"] = tenth
            log.info("understanding.build what=%r done=%d total=%d", what, done, total)

    return report
