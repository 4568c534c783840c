"""Offline machine translation: argostranslate packages driven directly, off the event loop.

argostranslate's own `translate()` splits sentences with models it downloads at run time
(minisbd / stanza) and fails offline, and `import argostranslate.translate` costs seconds (it
pulls in torch through stanza). So `ArgosTranslator` uses argostranslate only to install and
describe packages (`argostranslate.package`, cheap to import) and runs each installed package
itself: our sentence splitting -> the package's sentencepiece model -> its CTranslate2 model ->
detokenize. Nothing is fetched at run time, and nothing here is imported until first use
(`import bot.translation.machine` imports neither argostranslate, ctranslate2 nor torch).

Where argostranslate keeps its files is decided when `argostranslate.settings` is first
imported: `ArgosTranslator` sets the environment for that import so everything stays under its
`data_dir` (`packages/` for the packages; `data/`, `config/`, `cache/` for argostranslate's own
directories) and restores the environment afterwards. Its own package lookup and installs use
its `data_dir` even if argostranslate was imported earlier with other settings.

Failures never raise out of `translate()`: the original text comes back with ok=False and a
note, and the failure is logged once per language pair.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import re
import sys
import threading
import time
import zipfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

from bot.translation.protect import protect, restore

log = logging.getLogger(__name__)

PIVOT = "en"
EXTRA_HINT = "pip install 'homeroom[translate]' (install torch==2.13.0 CPU first, see README)"
_SPECIAL_TOKENS = frozenset({"<blank>", "<s>", "</s>", "<pad>", "<unk>"})
_NO_SPACE_LANGS = frozenset({"zh", "zt", "ja", "th", "lo", "km", "my"})

# argostranslate.settings is read once per process, at its first import.
_IMPORT_LOCK = threading.Lock()
# install_from_path() extracts to settings.package_data_dir, which we point at our dir meanwhile.
_INSTALL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Translation:
    text: str
    source: str
    target: str
    machine: bool = True  # produced by a model (False: the text as given, e.g. same language)
    ok: bool = True       # False: translation failed and `text` is the original
    note: str | None = None


@runtime_checkable
class Translator(Protocol):
    def can_translate(self, source: str, target: str) -> bool: ...

    async def translate(self, text: str, source: str, target: str) -> Translation: ...


class TranslationError(Exception):
    """Translation could not be done (no model, model failed to load or run)."""


class PackageError(TranslationError, ValueError):
    """An .argosmodel file can't be installed; the message says why."""


def normalize_code(code: str) -> str:
    """'es-MX' -> 'es', 'zh_Hans' -> 'zh', ' EN ' -> 'en'."""
    return re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]


# --------------------------------------------------------------------------- sentence splitting

_SENT_END_RE = re.compile(
    r"([.!?…؟]+[\"'”’»)\]]*)(?:\s+|$)"   # Latin/Arabic punctuation, then space (or end)
    r"|([。！？]+[」』”’）]*)\s*"          # CJK full-width punctuation needs no space after it
)
_ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "st.", "sr.", "sra.", "srta.", "jr.",
                            "prof.", "e.g.", "i.e.", "vs.", "no.", "approx.", "dept.", "ave."})


def split_sentences(line: str) -> list[str]:
    """Split one line into sentences on . ! ? … ؟ 。 ！ ？ (not after common abbreviations)."""
    sentences: list[str] = []
    start = 0
    for m in _SENT_END_RE.finditer(line):
        end = m.end(1) if m.group(1) else m.end(2)
        candidate = line[start:end].strip()
        last = candidate.rsplit(None, 1)[-1].lower() if candidate else ""
        if last in _ABBREVIATIONS or re.fullmatch(r"[a-z]\.", last):  # "Dr." / "J. Smith"
            continue
        if candidate:
            sentences.append(candidate)
        start = m.end()
    tail = line[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def split_text(text: str) -> list[list[str]]:
    """Lines (paragraph breaks kept, blank lines as []) of sentences."""
    return [split_sentences(line) for line in text.split("\n")]


def join_text(lines: list[list[str]], target: str) -> str:
    sep = "" if target in _NO_SPACE_LANGS else " "
    return "\n".join(sep.join(s for s in line if s) for line in lines)


# --------------------------------------------------------------------------- memory probe

def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


# --------------------------------------------------------------------------- one loaded package

class _LoadedModel:
    """One installed package's CTranslate2 translator and tokenizer. translate() is thread-safe."""

    def __init__(self, pkg: Any, *, compute_type: str, intra_threads: int) -> None:
        import ctranslate2

        self.pair = (pkg.from_code, pkg.to_code)
        self.path = Path(pkg.package_path)
        self.target_prefix: str = getattr(pkg, "target_prefix", "") or ""
        sp_path = self.path / "sentencepiece.model"
        if sp_path.exists():
            import sentencepiece as spm

            self._sp = spm.SentencePieceProcessor(model_file=str(sp_path))
            self._tokenizer = None
        elif getattr(pkg, "tokenizer", None) is not None:  # older BPE packages
            self._sp = None
            self._tokenizer = pkg.tokenizer
        else:
            raise TranslationError(f"package {self.path.name} has no sentencepiece.model or bpe.model")
        self.translator = ctranslate2.Translator(
            str(self.path / "model"), device="cpu", compute_type=compute_type,
            inter_threads=1, intra_threads=intra_threads)
        self.model_bytes = sum(p.stat().st_size for p in (self.path / "model").rglob("*") if p.is_file())
        self.calls = 0
        self.sentences = 0
        self.seconds = 0.0
        self.load_seconds = 0.0
        self.rss_delta_bytes: int | None = None

    def encode(self, sentence: str) -> list[str]:
        if self._sp is not None:
            return self._sp.encode(sentence, out_type=str)
        return self._tokenizer.encode(sentence)

    def decode(self, tokens: list[str]) -> str:
        tokens = [t for t in tokens if t not in _SPECIAL_TOKENS]
        if self._sp is not None:
            # Pieces not in the vocabulary (copied from the source by replace_unknowns) come
            # back verbatim, possibly with the word-boundary mark.
            return self._sp.decode_pieces(tokens).replace("▁", " ").strip()
        return self._tokenizer.decode(tokens).strip()

    def translate(self, sentences: list[str], *, max_decoding_length: int, beam_size: int) -> list[str]:
        if not sentences:
            return []
        started = time.perf_counter()
        batch = [self.encode(s) for s in sentences]
        prefix = [[self.target_prefix]] * len(batch) if self.target_prefix else None
        results = self.translator.translate_batch(
            batch, target_prefix=prefix, beam_size=beam_size, max_decoding_length=max_decoding_length,
            replace_unknowns=True, length_penalty=0.2, max_batch_size=32)
        out = []
        for result in results:
            tokens = list(result.hypotheses[0])
            if self.target_prefix and tokens and tokens[0] == self.target_prefix:
                tokens = tokens[1:]
            out.append(self.decode(tokens))
        self.calls += 1
        self.sentences += len(sentences)
        self.seconds += time.perf_counter() - started
        return out


@dataclass
class _PairStats:
    calls: int = 0
    cache_hits: int = 0
    translated: int = 0
    failures: int = 0


# --------------------------------------------------------------------------- ArgosTranslator

class ArgosTranslator:
    """Translator over argostranslate packages installed under `data_dir/packages`.

    `data_dir` is the argos directory inside Homeroom's data dir (e.g. data/argos).
    """

    def __init__(self, data_dir: Path, glossary: Iterable[str] = (), *, max_workers: int = 2,
                 cache_size: int = 2048, max_decoding_length: int = 256, beam_size: int = 4,
                 compute_type: str = "int8", intra_threads: int = 0) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.packages_dir = self.data_dir / "packages"
        self.glossary = tuple(t for t in glossary if t and t.strip())
        self.max_workers = max_workers
        self.cache_size = cache_size
        self.max_decoding_length = max_decoding_length
        self.beam_size = beam_size
        self.compute_type = compute_type
        self.intra_threads = intra_threads
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._load_lock = threading.Lock()      # CTranslate2 model loading is not thread-safe
        self._state_lock = threading.Lock()     # cache, stats, package list
        self._models: dict[tuple[str, str], _LoadedModel] = {}
        self._broken: dict[tuple[str, str], str] = {}
        self._packages: dict[tuple[str, str], Any] | None = None
        self._cache: OrderedDict[tuple[str, str, str], Translation] = OrderedDict()
        self._cache_hits = 0
        self._cache_misses = 0
        self._pairs: dict[tuple[str, str], _PairStats] = {}
        self._logged_failures: set[tuple[str, str]] = set()
        self._inflight: dict[tuple[str, str, str], asyncio.Future[Translation]] = {}
        self._available: bool | None = None

    # ---- availability and packages

    @staticmethod
    def available() -> bool:
        """Is the `translate` extra installed? (Checks without importing anything.)"""
        return all(importlib.util.find_spec(name) is not None
                   for name in ("argostranslate", "ctranslate2", "sentencepiece"))

    def _extra_installed(self) -> bool:
        if self._available is None:
            self._available = self.available()
        return self._available

    def refresh(self) -> None:
        """Forget the package list (e.g. after another process installed a package)."""
        with self._state_lock:
            self._packages = None

    def _argos_package(self):
        """Import argostranslate.package (not .translate), with settings under data_dir on first import."""
        if not self._extra_installed():
            raise TranslationError(f"machine translation is not installed: {EXTRA_HINT}")
        with _IMPORT_LOCK:
            if "argostranslate.settings" not in sys.modules:
                env = {
                    "ARGOS_PACKAGES_DIR": str(self.packages_dir),
                    "XDG_DATA_HOME": str(self.data_dir / "data"),
                    "XDG_CONFIG_HOME": str(self.data_dir / "config"),
                    "XDG_CACHE_HOME": str(self.data_dir / "cache"),
                    "ARGOS_DEVICE_TYPE": "cpu",
                }
                saved = {k: os.environ.get(k) for k in env}
                os.environ.update(env)
                try:
                    import argostranslate.settings  # noqa: F401  (reads the environment now)
                finally:
                    for k, v in saved.items():
                        if v is None:
                            os.environ.pop(k, None)
                        else:
                            os.environ[k] = v
            import argostranslate.package

        return argostranslate.package

    def _scan_packages(self) -> dict[tuple[str, str], Any]:
        with self._state_lock:
            if self._packages is not None:
                return self._packages
        package_mod = self._argos_package()
        found: dict[tuple[str, str], Any] = {}
        if self.packages_dir.is_dir():
            for path in sorted(self.packages_dir.iterdir()):
                if not path.is_dir() or not (path / "metadata.json").exists():
                    continue
                try:
                    pkg = package_mod.Package(path)
                except Exception as exc:  # a broken folder must not hide the others
                    log.warning("skipping argos package %s: %s", path.name, exc)
                    continue
                if pkg.type != "translate" or not pkg.from_code or not pkg.to_code:
                    continue
                if not (path / "model").is_dir():
                    continue
                key = (normalize_code(pkg.from_code), normalize_code(pkg.to_code))
                if key not in found or _version(pkg.package_version) >= _version(found[key].package_version):
                    found[key] = pkg
        with self._state_lock:
            self._packages = found
        return found

    def installed_pairs(self) -> list[tuple[str, str]]:
        if not self._extra_installed():
            return []
        return sorted(self._scan_packages())

    def _route(self, source: str, target: str) -> list[tuple[str, str]] | None:
        pairs = self._scan_packages() if self._extra_installed() else {}
        if (source, target) in pairs:
            return [(source, target)]
        if PIVOT not in (source, target) and (source, PIVOT) in pairs and (PIVOT, target) in pairs:
            return [(source, PIVOT), (PIVOT, target)]
        return None

    def can_translate(self, source: str, target: str) -> bool:
        source, target = normalize_code(source), normalize_code(target)
        return source == target or self._route(source, target) is not None

    async def warm_up(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        """Off the loop: import argostranslate.package, list packages, load the given pairs."""
        def work() -> None:
            self._scan_packages()
            for source, target in pairs:
                for pair in self._route(normalize_code(source), normalize_code(target)) or ():
                    self._model(pair)

        if self._extra_installed():
            await asyncio.get_running_loop().run_in_executor(self._get_executor(), work)

    def install_file(self, path: Path | str) -> tuple[str, str]:
        """Install an .argosmodel file (offline). Returns its (from_code, to_code)."""
        path = Path(path)
        from_code, to_code = _check_argosmodel(path)
        package_mod = self._argos_package()
        from argostranslate import settings

        self.packages_dir.mkdir(parents=True, exist_ok=True)
        with _INSTALL_LOCK:
            previous = settings.package_data_dir
            settings.package_data_dir = self.packages_dir
            try:
                package_mod.install_from_path(path)
            except Exception as exc:
                raise PackageError(f"{path}: could not install: {exc}") from exc
            finally:
                settings.package_data_dir = previous
        pair = (normalize_code(from_code), normalize_code(to_code))
        with self._state_lock:
            self._packages = None
            self._broken.pop(pair, None)
            self._models.pop(pair, None)  # a reinstalled pair loads the new files
            self._logged_failures.clear()
            self._cache.clear()
        return pair

    # ---- loading and running models (worker threads)

    def _model(self, pair: tuple[str, str]) -> _LoadedModel:
        model = self._models.get(pair)
        if model is not None:
            return model
        with self._load_lock:
            model = self._models.get(pair)
            if model is not None:
                return model
            if pair in self._broken:
                raise TranslationError(self._broken[pair])
            pkg = self._scan_packages().get(pair)
            if pkg is None:
                raise TranslationError(f"no translation model for {pair[0]}→{pair[1]}")
            rss_before = _rss_bytes()
            started = time.perf_counter()
            try:
                model = _LoadedModel(pkg, compute_type=self.compute_type, intra_threads=self.intra_threads)
            except Exception as exc:
                self._broken[pair] = f"model {pair[0]}→{pair[1]} failed to load: {exc}"
                raise TranslationError(self._broken[pair]) from exc
            model.load_seconds = time.perf_counter() - started
            rss_after = _rss_bytes()
            if rss_before is not None and rss_after is not None:
                model.rss_delta_bytes = max(0, rss_after - rss_before)
            self._models[pair] = model
            log.info("loaded translation model %s→%s in %.2fs", pair[0], pair[1], model.load_seconds)
            return model

    def _translate_sync(self, text: str, source: str, target: str) -> str:
        route = self._route(source, target)
        if route is None:
            raise TranslationError(f"no translation model for {source}→{target}")
        protected, mapping = protect(text, self.glossary)
        lines = split_text(protected)
        for pair in route:
            model = self._model(pair)
            flat = [s for line in lines for s in line]
            out = iter(model.translate(flat, max_decoding_length=self.max_decoding_length,
                                       beam_size=self.beam_size))
            lines = [[next(out) for _ in line] for line in lines]
        return restore(join_text(lines, target), mapping)

    def _get_executor(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.max_workers,
                                                    thread_name_prefix="homeroom-mt")
            return self._executor

    # ---- the async API

    async def translate(self, text: str, source: str, target: str) -> Translation:
        source, target = normalize_code(source), normalize_code(target)
        if source == target or not text.strip():
            return Translation(text, source, target, machine=False, ok=True)
        key = (text, source, target)
        with self._state_lock:
            stats = self._pairs.setdefault((source, target), _PairStats())
            stats.calls += 1
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self._cache_hits += 1
                stats.cache_hits += 1
                return cached
            self._cache_misses += 1
        loop = asyncio.get_running_loop()
        pending = self._inflight.get(key)
        if pending is not None and pending.get_loop() is loop:
            # The same text is being translated right now (a broadcast): share the result.
            try:
                result = await asyncio.shield(pending)
                with self._state_lock:
                    stats.cache_hits += 1
                return result
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # The task that started it was cancelled, not us: translate ourselves.
        future: asyncio.Future[Translation] = loop.create_future()
        self._inflight[key] = future
        try:
            result = await self._run(text, source, target, stats, loop)
            future.set_result(result)
            return result
        except BaseException:  # cancelled (_run returns failures, never raises them)
            future.cancel()
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]

    async def _run(self, text: str, source: str, target: str, stats: _PairStats,
                   loop: asyncio.AbstractEventLoop) -> Translation:
        if not self._extra_installed():
            return self._failure(text, source, target, stats,
                                 TranslationError(f"machine translation is not installed: {EXTRA_HINT}"))
        try:
            translated = await loop.run_in_executor(self._get_executor(), self._translate_sync,
                                                    text, source, target)
        except Exception as exc:
            return self._failure(text, source, target, stats, exc)
        result = Translation(translated, source, target, machine=True, ok=True)
        with self._state_lock:
            stats.translated += 1
            self._cache[(text, source, target)] = result
            self._cache.move_to_end((text, source, target))
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return result

    def _failure(self, text: str, source: str, target: str, stats: _PairStats,
                 exc: Exception) -> Translation:
        pair = (source, target)
        with self._state_lock:
            stats.failures += 1
            first = pair not in self._logged_failures
            self._logged_failures.add(pair)
        expected = isinstance(exc, TranslationError)
        reason = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        if first:
            log.warning("machine translation %s→%s failed; sending the original text (logged once "
                        "per pair): %s", source, target, reason, exc_info=None if expected else exc)
        return Translation(text, source, target, machine=False, ok=False,
                           note=f"not translated ({reason})")

    # ---- introspection and shutdown

    def stats(self) -> dict[str, Any]:
        """Cache counters, per requested pair counters, and per loaded model info."""
        with self._state_lock:
            pairs = {f"{s}-{t}": dict(vars(p)) for (s, t), p in self._pairs.items()}
            cache = {"size": len(self._cache), "max": self.cache_size,
                     "hits": self._cache_hits, "misses": self._cache_misses}
        models = {
            f"{s}-{t}": {"model_calls": m.calls, "sentences": m.sentences,
                         "seconds": round(m.seconds, 4), "load_seconds": round(m.load_seconds, 4),
                         "model_bytes": m.model_bytes, "rss_delta_bytes": m.rss_delta_bytes,
                         "path": str(m.path)}
            for (s, t), m in list(self._models.items())
        }
        return {"cache": cache, "pairs": pairs, "models": models}

    def close(self) -> None:
        """Stop the worker threads (running translations finish) and unload models."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        with self._load_lock:
            self._models.clear()


def _version(v: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in re.split(r"[.\-]", v or "0"))


def _check_argosmodel(path: Path) -> tuple[str, str]:
    """Validate an .argosmodel before handing it to argostranslate; clear errors for bad files."""
    if not path.is_file():
        raise PackageError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise PackageError(f"{path}: not an .argosmodel (it must be a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n and not n.endswith("/")]
            for name in names:
                p = PurePosixPath(name)
                if p.is_absolute() or ".." in p.parts:
                    raise PackageError(f"{path}: unsafe path in archive: {name}")
            tops = {PurePosixPath(n).parts[0] for n in names if len(PurePosixPath(n).parts) > 1}
            if len(tops) != 1 or any(len(PurePosixPath(n).parts) < 2 for n in names):
                raise PackageError(f"{path}: an .argosmodel holds exactly one top folder")
            top = tops.pop()
            members = set(names)
            if f"{top}/metadata.json" not in members:
                raise PackageError(f"{path}: no {top}/metadata.json")
            try:
                metadata = json.loads(zf.read(f"{top}/metadata.json").decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise PackageError(f"{path}: metadata.json is not valid JSON: {exc}") from exc
            if not isinstance(metadata, dict) or not metadata.get("from_code") or not metadata.get("to_code"):
                raise PackageError(f"{path}: metadata.json needs from_code and to_code")
            if metadata.get("type", "translate") != "translate":
                raise PackageError(f"{path}: not a translation package (type {metadata.get('type')!r})")
            if f"{top}/model/model.bin" not in members:
                raise PackageError(f"{path}: no CTranslate2 model ({top}/model/model.bin)")
            if f"{top}/sentencepiece.model" not in members and f"{top}/bpe.model" not in members:
                raise PackageError(f"{path}: no tokenizer ({top}/sentencepiece.model or bpe.model)")
    except zipfile.BadZipFile as exc:
        raise PackageError(f"{path}: damaged zip archive: {exc}") from exc
    return str(metadata["from_code"]), str(metadata["to_code"])


# --------------------------------------------------------------------------- FakeTranslator

class FakeTranslator:
    """Deterministic stand-in for conversation tests and benchmarks: "[es] text".

    `delay` seconds per call: with `blocking=False` an asyncio.sleep, with `blocking=True` a
    time.sleep in a worker thread (like a real model: CPU work off the loop). `languages`: the
    languages it can translate between (None: all). Records every call in `calls`.
    """

    def __init__(self, languages: Iterable[str] | None = None, *, delay: float = 0.0,
                 blocking: bool = False, max_workers: int = 2) -> None:
        self.languages = None if languages is None else frozenset(normalize_code(c) for c in languages)
        self.delay = delay
        self.blocking = blocking
        self.calls: list[tuple[str, str, str]] = []
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._sleep: Callable[[float], None] = time.sleep  # the blocking work (tests may replace it)

    @property
    def call_count(self) -> int:
        return len(self.calls)

    @staticmethod
    def available() -> bool:
        return True

    def installed_pairs(self) -> list[tuple[str, str]]:
        langs = sorted(self.languages or ())
        return [(a, b) for a in langs for b in langs if a != b]

    def can_translate(self, source: str, target: str) -> bool:
        source, target = normalize_code(source), normalize_code(target)
        return source == target or self.languages is None or {source, target} <= self.languages

    async def translate(self, text: str, source: str, target: str) -> Translation:
        source, target = normalize_code(source), normalize_code(target)
        if source == target or not text.strip():
            return Translation(text, source, target, machine=False, ok=True)
        self.calls.append((text, source, target))
        if not self.can_translate(source, target):
            return Translation(text, source, target, machine=False, ok=False,
                               note=f"not translated (no translation model for {source}→{target})")
        if self.delay:
            if self.blocking:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="fake-mt")
                await asyncio.get_running_loop().run_in_executor(self._executor, self._sleep, self.delay)
            else:
                await asyncio.sleep(self.delay)
        return Translation(f"[{target}] {text}", source, target, machine=True, ok=True)

    def stats(self) -> dict[str, Any]:
        return {"calls": len(self.calls)}

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
