"""The public API: ``analyse(texts)`` and ``high_score_negative(score, text)``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import keywords as kw
from . import sentiment, themes


@dataclass(frozen=True)
class Result:
    sentiment: str  # positive / neutral / negative
    score: float  # P(positive), 0..1
    themes: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)


def analyse(texts: Sequence[str], *, keywords: int = 5) -> list[Result]:
    """Sentiment, themes and (when ``keywords`` > 0) TF-IDF keywords for a batch of comments."""
    cleaned = [(t or "").strip() for t in texts]
    non_empty = [t for t in cleaned if t]
    predictions = iter(sentiment.predict(non_empty))
    results: list[Result] = []
    for text in cleaned:
        if not text:
            results.append(Result("neutral", 0.5))
            continue
        label, score = next(predictions)
        words = kw.tfidf(text, top=keywords) if keywords else []
        results.append(Result(label, score, themes.themes_of(text), words))
    return results


def high_score_negative(score: float | int | None, text: str, *, high: float = 4, scale_max: float = 5) -> bool:
    """True for "a high rating with a negative comment" (e.g. 5 stars, "排队三个小时").

    ``score`` is the patient's rating on a 1..``scale_max`` scale (use scale_max=10 and high=9 for
    a 0-10 recommend score); ``high`` is the lowest rating counted as high.
    """
    if score is None or not (text or "").strip() or score < high or score > scale_max:
        return False
    label, _p = sentiment.predict([text])[0]
    return label == "negative"
