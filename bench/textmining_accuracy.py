"""Sentiment accuracy: baseline vs ours on a held-out split and on the hospital-domain set.

    DJANGO_SETTINGS_MODULE=config.settings .venv/bin/python bench/textmining_accuracy.py [--limit N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from caredesk.textmining import evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="use a random subset of the generic data")
    args = parser.parse_args()
    start = time.perf_counter()
    for name, figures in evaluate.run(limit=args.limit).items():
        print(f"{name:45s} accuracy={figures['accuracy']:.4f} macro_f1={figures['macro_f1']:.4f}")
    print(f"elapsed {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
