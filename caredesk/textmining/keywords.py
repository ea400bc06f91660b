"""Keywords with jieba.analyse (TF-IDF and TextRank) on our tokenizer, never the global one."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

import jieba.analyse
import jieba.posseg

from . import tokenizer

_lock = threading.Lock()
_state: tuple[object, jieba.analyse.TFIDF, jieba.analyse.TextRank] | None = None


def _extractors() -> tuple[jieba.analyse.TFIDF, jieba.analyse.TextRank]:
    global _state
    tok = tokenizer.get()
    with _lock:
        if _state is None or _state[0] is not tok:
            pos = jieba.posseg.POSTokenizer(tok)
            tfidf = jieba.analyse.TFIDF()
            tfidf.tokenizer = tok
            tfidf.postokenizer = pos
            textrank = jieba.analyse.TextRank()
            textrank.tokenizer = textrank.postokenizer = pos
            _state = (tok, tfidf, textrank)
        return _state[1], _state[2]


def tfidf(text: str, top: int = 5) -> list[str]:
    return [str(w) for w in _extractors()[0].extract_tags(text, topK=top)]


def textrank(text: str, top: int = 5) -> list[str]:
    return [str(w) for w in _extractors()[1].textrank(text, topK=top)]


def frequencies(texts: Iterable[str], top: int = 50) -> list[tuple[str, int]]:
    """Word frequencies over many comments (for a per-department word cloud / bar chart)."""
    counter: Counter[str] = Counter()
    for text in texts:
        counter.update(w for w in tokenizer.cut(text) if len(w) > 1)
    return counter.most_common(top)
