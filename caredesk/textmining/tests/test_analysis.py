from __future__ import annotations

import pytest

from caredesk.textmining import themes
from caredesk.textmining.analysis import Result, analyse, high_score_negative
from caredesk.textmining.models import ThemeRule

pytestmark = pytest.mark.django_db


def test_default_theme_rules_find_waiting_and_parking() -> None:
    assert themes.themes_of("排队两个小时，停车场也没有车位") == ["waiting", "parking"]


def test_edited_theme_rules_replace_the_defaults() -> None:
    ThemeRule.objects.create(code="nursing", label="护理", keywords="护士，换药\n打针")
    assert themes.themes_of("护士换药很仔细") == ["nursing"]
    assert themes.labels()["nursing"] == "护理"


def test_clear_comments_get_the_expected_sentiment() -> None:
    good, bad = analyse(["医生很耐心，护士也很热情，非常满意，谢谢你们", "态度太差了，排队三个小时没人管，很失望"])
    assert good.sentiment == "positive" and good.score > 0.6
    assert bad.sentiment == "negative" and bad.score < 0.4
    assert "waiting" in bad.themes and "attitude" in bad.themes


def test_analyse_returns_one_result_per_text_with_keywords() -> None:
    results = analyse(["", "出院结算很快，窗口工作人员很利索"])
    assert results[0] == Result("neutral", 0.5)
    assert results[1].keywords and len(results) == 2


def test_high_score_with_negative_comment_is_flagged() -> None:
    assert high_score_negative(5, "排队排了三个小时，护士态度很差，很失望")
    assert not high_score_negative(5, "医生很耐心，非常满意")
    assert not high_score_negative(2, "排队排了三个小时，护士态度很差，很失望")
    assert not high_score_negative(10, "排队排了三个小时，很失望")
    assert high_score_negative(10, "排队排了三个小时，很失望", high=9, scale_max=10)
