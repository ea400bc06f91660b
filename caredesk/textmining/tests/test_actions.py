from __future__ import annotations

from typing import Any

import pytest

from caredesk.core.models import AuditEvent
from caredesk.textmining import actions, themes, tokenizer

pytestmark = pytest.mark.django_db


def test_saving_a_word_is_audited_and_used_by_the_tokenizer(admin_user: Any) -> None:
    tokenizer.get()
    actions.save_dictionary_word(word="静配中心", freq=2000, tag="n", acting_user=admin_user)
    assert "静配中心" in tokenizer.cut("这里的静配中心效率很高")
    assert AuditEvent.objects.filter(verb="textmining.word_saved").count() == 1


def test_saving_a_theme_rule_is_audited_and_matched(admin_user: Any) -> None:
    actions.save_theme_rule(code="nursing", label="护理", keywords=["换药", " "], acting_user=admin_user)
    assert themes.themes_of("换药很轻") == ["nursing"]
    assert AuditEvent.objects.filter(verb="textmining.theme_saved").count() == 1


def test_an_empty_theme_rule_is_refused(admin_user: Any) -> None:
    with pytest.raises(ValueError, match="不能为空"):
        actions.save_theme_rule(code="x", label="X", keywords=[" "], acting_user=admin_user)
