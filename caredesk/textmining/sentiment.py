"""Sentiment classifier: char n-grams + jieba word n-grams (with negation marks) + sentiment-lexicon
marks (lexicon.py, flipped by a negation in the same clause), class-balanced logistic regression.

Labels are ``positive`` / ``negative`` (and optionally ``neutral``). With two classes, a comment is
neutral when P(positive) falls between NEUTRAL_LOW and NEUTRAL_HIGH. The trained pipeline is saved to
DATA_DIR/textmining/sentiment.joblib; without it, a small default model is trained at first use from
the hospital comments shipped in ``data/hospital_comments.csv`` (about one second).
"""

from __future__ import annotations

import csv
import itertools
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import joblib
from django.conf import settings
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from . import lexicon, tokenizer

LABELS = ("positive", "neutral", "negative")
NEUTRAL_LOW = 0.4
NEUTRAL_HIGH = 0.6
SHIPPED_TRAINING = Path(__file__).resolve().parent / "data" / "hospital_comments.csv"

_lock = threading.Lock()
_model: Pipeline | None = None


def model_path() -> Path:
    return Path(settings.DATA_DIR) / "textmining" / "sentiment.joblib"


def word_ngrams(text: str) -> list[str]:
    """Module-level analyzer (picklable): words with negation marks, word bigrams and lexicon marks."""
    segmented = tokenizer.cut(text)
    words = tokenizer.features_of(segmented)
    return words + [a + " " + b for a, b in itertools.pairwise(words)] + lexicon.marks(segmented)


def baseline_pipeline() -> Pipeline:
    """The plain character-n-gram logistic regression the issue compares against."""
    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )


def new_pipeline(min_df: int = 2) -> Pipeline:
    features = FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=min_df, max_features=300_000)),
            ("words", TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True, min_df=min_df, max_features=200_000)),
        ],
        n_jobs=1,
    )
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
    return Pipeline([("features", features), ("clf", clf)])


def read_csv(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(texts, labels, errors): rows with an empty text or an unknown label are reported, not fatal."""
    texts: list[str] = []
    labels: list[str] = []
    errors: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "text" not in reader.fieldnames or "label" not in reader.fieldnames:
            raise ValueError("CSV 必须包含 text 和 label 两列")
        for lineno, row in enumerate(reader, start=2):
            text = (row.get("text") or "").strip()
            label = (row.get("label") or "").strip().lower()
            if not text:
                errors.append(f"第 {lineno} 行：text 为空")
            elif label not in LABELS:
                errors.append(f"第 {lineno} 行：label 必须是 positive、negative 或 neutral")
            else:
                texts.append(text)
                labels.append(label)
    return texts, labels, errors


ADAPTATION_WEIGHT = 20.0  # weight of the hospital's own rows against the generic data (see docs/benchmarks.md)


def train(texts: Sequence[str], labels: Sequence[str], weights: Sequence[float] | None = None) -> Pipeline:
    if len(set(labels)) < 2:
        raise ValueError("训练数据至少需要两种标签")
    min_df = 2 if len(texts) >= 1000 else 1
    pipeline = new_pipeline(min_df=min_df)
    if weights is None:
        pipeline.fit(list(texts), list(labels))
    else:
        pipeline.fit(list(texts), list(labels), clf__sample_weight=list(weights))
    return pipeline


def save(pipeline: Pipeline, path: Path | None = None) -> Path:
    global _model
    target = path or model_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    joblib.dump(pipeline, tmp, compress=3)
    tmp.replace(target)
    with _lock:
        _model = pipeline
    return target


def default_model() -> Pipeline:
    texts, labels, _errors = read_csv(SHIPPED_TRAINING)
    return train(texts, labels)


def get_model() -> Pipeline:
    global _model
    current = _model
    if current is None:
        with _lock:
            if _model is None:
                path = model_path()
                _model = joblib.load(path) if path.exists() else default_model()
            current = _model
    return current


def reset() -> None:
    global _model
    with _lock:
        _model = None


def decide(classes: Sequence[str], probabilities: Iterable[float]) -> tuple[str, float]:
    """(sentiment, score) with score = P(positive) in [0, 1]."""
    probs: dict[str, float] = dict(zip(classes, (float(p) for p in probabilities), strict=True))
    score = probs.get("positive", 0.0) + 0.5 * probs.get("neutral", 0.0)
    if "neutral" in probs:
        return max(probs, key=lambda k: probs[k]), round(score, 4)
    if score >= NEUTRAL_HIGH:
        return "positive", round(score, 4)
    if score <= NEUTRAL_LOW:
        return "negative", round(score, 4)
    return "neutral", round(score, 4)


def predict(texts: Sequence[str], model: Any = None) -> list[tuple[str, float]]:
    if not texts:
        return []
    pipeline = model or get_model()
    classes = [str(c) for c in pipeline.classes_]
    return [decide(classes, row) for row in pipeline.predict_proba(list(texts))]
