"""Dictionary and theme-rule pages: supervisor/admin only, audited, applied at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from caredesk.core.models import AuditEvent
from caredesk.textmining import themes, tokenizer
from caredesk.textmining.models import DictionaryWord, ThemeRule

pytestmark = pytest.mark.django_db


def test_supervisor_adds_a_word_and_segmentation_uses_it(login: Any, supervisor: Any) -> None:
    client = login(supervisor)
    assert "静配中心" not in tokenizer.cut("静配中心效率很高")
    resp = client.post(reverse("textmining:dictionary"), {"word": "静配中心", "freq": "", "tag": "n", "active": "on"})
    assert resp.status_code == 302
    assert DictionaryWord.objects.get(word="静配中心").active
    assert AuditEvent.objects.filter(verb="textmining.word_saved").count() == 1
    page = client.get(reverse("textmining:dictionary") + "?sample=静配中心效率很高")
    assert '<span class="tag">静配中心</span>' in page.content.decode()


def test_invalid_word_shows_a_chinese_error(login: Any, admin_user: Any) -> None:
    resp = login(admin_user).post(reverse("textmining:dictionary"), {"word": "两 个", "active": "on"})
    assert resp.status_code == 200 and "词语不能包含空格" in resp.content.decode()
    assert not DictionaryWord.objects.exists()


def test_theme_rule_page_saves_and_matches(login: Any, supervisor: Any) -> None:
    client = login(supervisor)
    assert "waiting" in client.get(reverse("textmining:themes")).content.decode()  # shipped defaults shown
    resp = client.post(reverse("textmining:themes"), {"code": "nursing", "label": "护理", "keywords": "换药，输液\n打针", "active": "on"})
    assert resp.status_code == 302
    assert ThemeRule.objects.get(code="nursing").keyword_list() == ["换药", "输液", "打针"]
    assert themes.themes_of("输液的时候很耐心") == ["nursing"]
    assert AuditEvent.objects.filter(verb="textmining.theme_saved").exists()


@pytest.mark.parametrize("persona", ["agent", "dept_head", "quality"])
def test_other_roles_are_refused(login: Any, request: Any, persona: str) -> None:
    client = login(request.getfixturevalue(persona))
    assert client.get(reverse("textmining:dictionary")).status_code == 403
    assert client.post(reverse("textmining:themes"), {"code": "x", "label": "X", "keywords": "y"}).status_code == 403


def test_another_process_edit_is_noticed(monkeypatch: Any) -> None:
    tokenizer.get()
    DictionaryWord.objects.bulk_create([DictionaryWord(word="静配中心", freq=5000)])  # no signal: as if elsewhere
    monkeypatch.setattr(tokenizer, "_checked_at", 0.0)
    assert "静配中心" in tokenizer.cut("静配中心效率很高")
