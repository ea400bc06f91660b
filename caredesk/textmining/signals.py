"""Reload the tokenizer and theme rules when their tables change."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from caredesk.accounts.models import Department, Doctor

from . import themes, tokenizer
from .models import DictionaryWord, ThemeRule


def _reset_tokenizer(**_kwargs: Any) -> None:
    tokenizer.reset()


def _reset_themes(**_kwargs: Any) -> None:
    themes.reset()


for _model in (DictionaryWord, Department, Doctor):
    post_save.connect(_reset_tokenizer, sender=_model, dispatch_uid=f"textmining-tok-save-{_model.__name__}")
    post_delete.connect(_reset_tokenizer, sender=_model, dispatch_uid=f"textmining-tok-del-{_model.__name__}")
post_save.connect(_reset_themes, sender=ThemeRule, dispatch_uid="textmining-theme-save")
post_delete.connect(_reset_themes, sender=ThemeRule, dispatch_uid="textmining-theme-del")
