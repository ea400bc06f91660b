from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caredesk.textmining import sentiment, themes, tokenizer


@pytest.fixture(scope="session")
def textmining_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("textmining-data")


@pytest.fixture(autouse=True)
def fresh_textmining(settings: Any, textmining_dir: Path) -> Iterator[None]:
    """Each test sees its own database rows and a DATA_DIR outside the repository."""
    settings.DATA_DIR = textmining_dir
    model = textmining_dir / "textmining" / "sentiment.joblib"
    model.unlink(missing_ok=True)
    tokenizer.reset()
    themes.reset()
    sentiment.reset()
    yield
    model.unlink(missing_ok=True)
    tokenizer.reset()
    themes.reset()
    sentiment.reset()
