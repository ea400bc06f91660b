from __future__ import annotations

import pytest
from django.core.management import call_command

from caredesk.complaints import classifier

pytestmark = pytest.mark.django_db

FEES = ["收费处多收了一次检查费要求退还", "医保报销金额算错了，多交了钱", "住院账单里有没做过的项目收费",
        "缴费后发票金额不对", "药费价格比上次贵了很多没人解释"]
ATTITUDE = ["护士说话很凶还翻白眼", "医生态度冷漠问两句就不耐烦", "导医不理人让我们自己找",
            "窗口工作人员训斥老人动作慢", "保安态度恶劣推搡家属"]


def test_keyword_fallback_without_a_model(org, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    s = classifier.suggest("骨科收费处多收了我两百元检查费，要求退费")
    assert (s.category, s.department_name, s.method) == ("fees", "骨科", "keywords")
    assert 0 < s.category_confidence <= 1


def test_training_needs_enough_closed_cases(org, settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path
    call_command("complaints_train_classifier")
    assert "keyword suggestions stay in use" in capsys.readouterr().out
    assert not classifier.model_path().exists()


def test_trained_model_suggests_category_and_department(org, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    rows = [(t, "fees", org["nk"].pk) for t in FEES] * 6 + [(t, "service_attitude", org["gk"].pk) for t in ATTITUDE] * 6
    result = classifier.train(rows)
    assert result["trained"] and result["cases"] == 60
    s = classifier.suggest("出院结算时发现多收了两天的床位费")
    assert s.method == "model" and s.category == "fees" and s.department_id == org["nk"].pk
    assert s.category_confidence > 0.5
    s2 = classifier.suggest("抽血的护士态度很差，一直不耐烦")
    assert s2.category == "service_attitude"
    classifier.reset()
