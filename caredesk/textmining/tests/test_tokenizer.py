from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from caredesk.accounts.models import Department
from caredesk.textmining import keywords, tokenizer
from caredesk.textmining.models import DictionaryWord

pytestmark = pytest.mark.django_db


def test_a_department_name_stays_one_token(org: dict[str, Any]) -> None:
    Department.objects.create(code="GDYWK", name="肝胆胰外科")
    assert "肝胆胰外科" in tokenizer.cut("我在肝胆胰外科住了一周")


def test_shipped_hospital_words_stay_whole() -> None:
    assert "出院结算" in tokenizer.cut("出院结算很快")


def test_an_edited_dictionary_word_is_used_after_saving() -> None:
    text = "这里的静配中心效率很高"
    assert "静配中心" not in tokenizer.cut(text)
    DictionaryWord.objects.create(word="静配中心", freq=2000, tag="n")
    assert "静配中心" in tokenizer.cut(text)


def test_an_inactive_dictionary_word_is_ignored() -> None:
    DictionaryWord.objects.create(word="静配中心", freq=2000, active=False)
    assert "静配中心" not in tokenizer.cut("这里的静配中心效率很高")


def test_jieba_cache_goes_under_data_dir(textmining_dir: Path) -> None:
    tokenizer.get()
    assert (textmining_dir / "textmining" / "jieba.cache").exists()


def test_the_global_jieba_tokenizer_is_not_changed() -> None:
    import jieba

    DictionaryWord.objects.create(word="静配中心", freq=2000)
    tokenizer.get()
    assert "静配中心" not in jieba.dt.FREQ


def test_negation_marks_the_following_word() -> None:
    assert "不_满意" in tokenizer.features("我不 满意")


def test_keywords_come_from_tfidf_and_textrank_with_our_words() -> None:
    text = "出院结算排队太久，出院结算窗口只有一个，出院结算流程太慢"
    assert "出院结算" in keywords.tfidf(text)
    assert keywords.textrank("医生护士态度很好，病房干净，医生解释病情很耐心，护士打针很轻")
    assert keywords.frequencies([text])[0] == ("出院结算", 3)
