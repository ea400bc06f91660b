"""Writes for the text analytics tables (audited)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from caredesk.core import audit

from .models import DictionaryWord, ThemeRule


@transaction.atomic
def save_dictionary_word(*, word: str, freq: int | None = None, tag: str = "", active: bool = True, acting_user: Any) -> DictionaryWord:
    """Add or update a hospital dictionary word; the tokenizer reloads on the next call."""
    word = word.strip()
    if not word:
        raise ValueError("词语不能为空")
    obj, created = DictionaryWord.objects.update_or_create(
        word=word, defaults={"freq": freq, "tag": tag, "active": active, "updated_at": timezone.now()},
    )
    audit.record(actor=acting_user, verb="textmining.word_saved", target=obj, created=created, active=active)
    return obj


@transaction.atomic
def save_theme_rule(*, code: str, label: str, keywords: list[str], active: bool = True, acting_user: Any) -> ThemeRule:
    """Add or update a theme rule; theme matching reloads on the next call."""
    cleaned = [k.strip() for k in keywords if k.strip()]
    if not code.strip() or not label.strip() or not cleaned:
        raise ValueError("主题编码、名称和关键词都不能为空")
    obj, created = ThemeRule.objects.update_or_create(
        code=code.strip(),
        defaults={"label": label.strip(), "keywords": "\n".join(cleaned), "active": active, "updated_at": timezone.now()},
    )
    audit.record(actor=acting_user, verb="textmining.theme_saved", target=obj, created=created, active=active)
    return obj
