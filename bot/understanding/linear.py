"""The trained classifier applied with numpy alone: character n-grams, TF-IDF, the logistic
regression's weights and the isotonic calibration, as arrays.

Why not call scikit-learn at run time: importing it costs ~1.6 s of every start (it pulls in
scipy.stats), its per-call input validation costs about as much as the arithmetic for one
message, and a pickled estimator is code the cache directory could make us run. scikit-learn
still does all the learning (`semantic._Model.fit`); this module only applies the weights it
fitted, and `tests/test_understanding.py` checks the probabilities against its `predict_proba`.
The fitted arrays are kept in one `.npz` file, read with `allow_pickle=False`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.understanding.normalize import normalize

_SPACES = re.compile(r"\s\s+")


def char_grams(text: str, lo: int = 2, hi: int = 4, max_chars: int = 1000) -> list[str]:
    """The n-grams of the normalized text, inside word boundaries, each word padded with a space
    (scikit-learn's `char_wb`). The one analyzer of both training and run time."""
    grams: list[str] = []
    add = grams.append
    for word in _SPACES.sub(" ", normalize(text[:max_chars]).lower()).split():
        w = f" {word} "
        size = len(w)
        for n in range(lo, hi + 1):
            offset = 0
            add(w[:n])
            while offset + n < size:
                offset += 1
                add(w[offset:offset + n])
            if offset == 0:  # a word shorter than n counts once
                break
    return grams


@dataclass
class LinearModel:
    """decision = tfidf(text) · W_grams + embed_weight · vector · W_embed + b; softmax; isotonic."""

    classes: list[str]
    oos: int                      # column of "not a school question", -1 if none
    vocabulary: dict[str, int]    # n-gram -> row of `weights`
    idf: np.ndarray               # per n-gram
    weights: np.ndarray           # (n-grams + embedding dims) x classes, float32
    intercept: np.ndarray         # per class
    iso_x: np.ndarray             # calibration knots: raw top probability ...
    iso_y: np.ndarray             # ... -> probability of being right
    ngram_range: tuple[int, int]
    embed_weight: float
    max_chars: int

    @classmethod
    def from_sklearn(cls, vectorizer: Any, classifier: Any, calibrator: Any, ngram_range: tuple[int, int],
                     embed_weight: float, max_chars: int, oos_label: str) -> "LinearModel":
        classes = [str(c) for c in classifier.classes_]
        coef = np.asarray(classifier.coef_, dtype=np.float64)
        intercept = np.asarray(classifier.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row; softmax over [-z, z]/2 is the same
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        return cls(classes, classes.index(oos_label) if oos_label in classes else -1,
                   {str(g): int(i) for g, i in vectorizer.vocabulary_.items()},
                   np.asarray(vectorizer.idf_, dtype=np.float32), np.ascontiguousarray(coef.T, dtype=np.float32),
                   intercept.astype(np.float32),
                   np.asarray(calibrator.X_thresholds_, dtype=np.float64),
                   np.asarray(calibrator.y_thresholds_, dtype=np.float64),
                   tuple(ngram_range), float(embed_weight), int(max_chars))

    def decision(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        n_grams = len(self.idf)
        scores = (np.asarray(vectors, dtype=np.float32) * self.embed_weight) @ self.weights[n_grams:]
        lo, hi = self.ngram_range
        for row, text in enumerate(texts):
            counts = Counter(g for g in char_grams(text, lo, hi, self.max_chars) if g in self.vocabulary)
            if not counts:
                continue
            cols = np.fromiter((self.vocabulary[g] for g in counts), dtype=np.intp, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))  # sublinear
            values = tf * self.idf[cols]
            values /= np.sqrt(float(values @ values))
            scores[row] += values @ self.weights[cols]
        return scores + self.intercept

    def probabilities(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        z = self.decision(texts, vectors).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        return z / z.sum(axis=1, keepdims=True)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """The isotonic fit's prediction (linear between knots, clipped at the ends)."""
        return np.interp(np.asarray(raw, dtype=np.float64), self.iso_x, self.iso_y)

    # -- one file on disk -----------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        grams = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        meta = {"classes": self.classes, "oos": self.oos, "ngram_range": list(self.ngram_range),
                "embed_weight": self.embed_weight, "max_chars": self.max_chars}
        return {"model_meta": np.array(json.dumps(meta)), "vocabulary": np.array(grams, dtype=str),
                "idf": self.idf, "weights": self.weights, "intercept": self.intercept,
                "iso_x": self.iso_x, "iso_y": self.iso_y}

    @classmethod
    def from_arrays(cls, arrays: Any) -> "LinearModel":
        meta = json.loads(str(arrays["model_meta"]))
        grams = arrays["vocabulary"].tolist()
        return cls(list(meta["classes"]), int(meta["oos"]), dict(zip(grams, range(len(grams)))),
                   arrays["idf"], arrays["weights"], arrays["intercept"], arrays["iso_x"], arrays["iso_y"],
                   (int(meta["ngram_range"][0]), int(meta["ngram_range"][1])), float(meta["embed_weight"]),
                   int(meta["max_chars"]))


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Written beside, then renamed: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(path)
