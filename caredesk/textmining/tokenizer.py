"""jieba segmentation with the hospital dictionary, on a private Tokenizer instance.

The global ``jieba.dt`` is never touched. Words come from the shipped list
(``data/hospital_words.txt``), from ``accounts.Department`` / ``accounts.Doctor`` names and from the
editable ``DictionaryWord`` table; saving any of those resets the tokenizer (see signals.py), and
the next call rebuilds it. jieba's cache file goes under DATA_DIR/textmining and its logger is
silenced.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # jieba's sources carry invalid escape sequences; keep the test output clean.
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", SyntaxWarning)
    import jieba
    import jieba.analyse
    import jieba.posseg
from django.conf import settings
from django.db import DatabaseError

jieba.setLogLevel(logging.WARNING)
logging.getLogger("jieba").setLevel(logging.WARNING)

DATA = Path(__file__).resolve().parent / "data"
SHIPPED_WORDS = DATA / "hospital_words.txt"
NEGATIONS = frozenset({"不", "没", "没有", "别", "未", "无", "非", "不太", "不是", "毫无", "从不"})

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_stamp: tuple[object, ...] | None = None  # the dictionary table's state the tokenizer was built from
_checked_at = 0.0
RECHECK_SECONDS = 60  # other processes notice an edited dictionary within this time


def cache_dir() -> Path:
    path = Path(settings.DATA_DIR) / "textmining"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shipped_words() -> list[tuple[str, int | None, str | None]]:
    words: list[tuple[str, int | None, str | None]] = []
    for line in SHIPPED_WORDS.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts:
            continue
        freq = int(parts[1]) if len(parts) > 1 else None
        tag = parts[2] if len(parts) > 2 else None
        words.append((parts[0], freq, tag))
    return words


def database_words() -> list[tuple[str, int | None, str | None]]:
    """Departments, doctors and editable words; empty when the database is not reachable."""
    from caredesk.accounts.models import Department, Doctor

    from .models import DictionaryWord

    words: list[tuple[str, int | None, str | None]] = []
    try:
        for name in Department.objects.filter(is_active=True).values_list("name", flat=True):
            words.append((name, None, "nt"))
        for name in Doctor.objects.filter(is_active=True).values_list("name", flat=True):
            words.append((name, None, "nr"))
        for word, freq, tag in DictionaryWord.objects.filter(active=True).values_list("word", "freq", "tag"):
            words.append((word, freq, tag or None))
    except DatabaseError:
        return []
    return words


def build() -> jieba.Tokenizer:
    tok = jieba.Tokenizer()
    tok.tmp_dir = str(cache_dir())
    tok.cache_file = "jieba.cache"
    tok.initialize()
    for word, freq, tag in shipped_words() + database_words():
        if word.strip():
            # Without a frequency, make sure the word wins over jieba's own split.
            tok.add_word(word, freq if freq else max(tok.suggest_freq(word, tune=False), 1000), tag)
    return tok


def dictionary_stamp() -> tuple[object, ...] | None:
    """(rows, latest change) of the editable dictionary; None when the database is not reachable."""
    from django.db.models import Count, Max

    from .models import DictionaryWord

    try:
        agg = DictionaryWord.objects.aggregate(n=Count("id"), m=Max("updated_at"))
    except DatabaseError:
        return None
    return (agg["n"], agg["m"])


def get() -> jieba.Tokenizer:
    """The shared tokenizer; rebuilt after a local change at once (signals) and, when another
    process edited the dictionary, at the next call after RECHECK_SECONDS."""
    global _tokenizer, _stamp, _checked_at
    tok = _tokenizer
    now = time.monotonic()
    if tok is not None and now - _checked_at > RECHECK_SECONDS:
        _checked_at = now
        if dictionary_stamp() != _stamp:
            tok = None
    if tok is None:
        with _lock:
            if _tokenizer is None or tok is None:
                _stamp = dictionary_stamp()
                _checked_at = time.monotonic()
                _tokenizer = build()
            tok = _tokenizer
    return tok


def reset() -> None:
    """Forget the tokenizer; the next call rebuilds it with the current words."""
    global _tokenizer
    with _lock:
        _tokenizer = None


def cut(text: str) -> list[str]:
    return [w for w in get().lcut(text) if w.strip()]


def features(text: str) -> list[str]:
    """Words for the classifier: punctuation dropped, a negation marks the word after it (不_好)."""
    return features_of(cut(text))


def features_of(words: list[str]) -> list[str]:
    """``features`` for an already segmented text."""
    out: list[str] = []
    negate = False
    for word in words:
        if not any(ch.isalnum() for ch in word):
            negate = False
            continue
        if word in NEGATIONS:
            out.append(word)
            negate = True
            continue
        if negate:
            out.append("不_" + word)
            negate = False
        out.append(word)
    return out
