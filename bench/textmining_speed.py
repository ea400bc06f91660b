"""Sentiment and themes for 10,000 comments on one core (limit 10 s).

    .venv/bin/python bench/textmining_speed.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from caredesk.textmining import sentiment, tokenizer  # noqa: E402
from caredesk.textmining.analysis import analyse  # noqa: E402

LIMIT = 10.0
N = 10_000


def main() -> None:
    base, _labels, _errors = sentiment.read_csv(sentiment.SHIPPED_TRAINING)
    texts = [f"{base[i % len(base)]}（第{i}条）" for i in range(N)]
    tokenizer.get()
    sentiment.get_model()  # load (or train the default model) outside the timed part
    start = time.perf_counter()
    results = analyse(texts, keywords=0)
    elapsed = time.perf_counter() - start
    if len(results) != N:
        raise SystemExit("wrong result count")
    print(f"{N} comments: {elapsed:.2f}s (limit {LIMIT:.0f}s, ratio {elapsed / LIMIT:.2f})")


if __name__ == "__main__":
    main()
