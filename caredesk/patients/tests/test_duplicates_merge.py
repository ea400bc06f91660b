"""Likely duplicates (疑似重复档案) and the merge screen (合并档案)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from caredesk.core.models import AuditEvent
from caredesk.patients.duplicates import candidate_pairs
from caredesk.patients.models import Encounter, Patient, PatientIdentifier

from .factories_value import make_patient

pytestmark = pytest.mark.django_db

ID_A = "11010519491231002X"
MOBILE = "13800138000"


@pytest.fixture
def twins(org):
    """Four pairs of likely duplicates, one per rule, and an unrelated patient."""
    return {
        "id": (make_patient("张三", department=org["gk"], id_number=ID_A),
               make_patient("张叁", department=org["gk"], id_number=ID_A.lower(), visits=2)),
        "phone": (make_patient("李四", department=org["nk"], mobile=MOBILE),
                  make_patient("李四", department=org["nk"], mobile=MOBILE)),
        "op": (make_patient("王五", department=org["nk"], outpatient_no="MZ0001"),
               make_patient("王武", department=org["nk"], outpatient_no="MZ0001")),
        "ip": (make_patient("赵六", department=org["nk"], inpatient_no="ZY0001"),
               make_patient("赵陆", department=org["nk"], inpatient_no="ZY0001")),
        "alone": make_patient("孙七", department=org["nk"], mobile="13900139000", outpatient_no="MZ0002"),
        "same_phone_other_name": make_patient("周八", department=org["nk"], mobile=MOBILE),
    }


def test_each_rule_finds_its_pair_and_nothing_else(twins):
    pairs = {(c.first.pk, c.second.pk): c.reasons for c in candidate_pairs(Patient.objects.active())}
    expected = {
        (twins["id"][0].pk, twins["id"][1].pk): ["身份证号相同"],
        (twins["phone"][0].pk, twins["phone"][1].pk): ["手机号和姓名相同"],
        (twins["op"][0].pk, twins["op"][1].pk): ["门诊号相同"],
        (twins["ip"][0].pk, twins["ip"][1].pk): ["住院号相同"],
    }
    assert pairs == expected


def test_a_pair_linked_by_two_rules_is_listed_once_with_both_reasons(org):
    a = make_patient("钱九", department=org["nk"], id_number=ID_A, outpatient_no="MZ9")
    b = make_patient("钱九", department=org["nk"], id_number=ID_A, outpatient_no="MZ9")
    [pair] = candidate_pairs(Patient.objects.active())
    assert (pair.first.pk, pair.second.pk) == (a.pk, b.pk)
    assert pair.reasons == ["身份证号相同", "门诊号相同"]


def test_the_duplicate_list_is_masked_and_its_query_count_is_constant(twins, supervisor, login, org, django_assert_max_num_queries):
    client = login(supervisor)
    with django_assert_max_num_queries(30) as few:
        response = client.get(reverse("patients:duplicates"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "身份证号相同" in html and "住院号相同" in html
    assert ID_A not in html and MOBILE not in html and "张三" not in html
    for i in range(10):
        make_patient("吴十", department=org["nk"], outpatient_no=f"MZ1{i}")
        make_patient("吴十", department=org["nk"], outpatient_no=f"MZ1{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("patients:duplicates")).status_code == 200


@pytest.mark.parametrize("persona", ["agent", "dept_head", "quality", "outsider"])
def test_only_supervisors_and_admins_may_see_duplicates_or_merge(persona, twins, login, request):
    client = login(request.getfixturevalue(persona))
    a, b = twins["id"]
    assert client.get(reverse("patients:duplicates")).status_code == 403
    assert client.get(reverse("patients:merge"), {"a": a.pk, "b": b.pk}).status_code == 403
    assert client.post(reverse("patients:merge"), {"a": a.pk, "b": b.pk, "survivor": a.pk, "reason": "同一人"}).status_code == 403
    assert Patient.objects.get(pk=b.pk).merged_into_id is None


def test_the_admin_may_open_the_duplicate_list(twins, admin_user, login):
    assert login(admin_user).get(reverse("patients:duplicates")).status_code == 200


def test_the_merge_screen_compares_masked_records_side_by_side(twins, supervisor, login):
    a, b = twins["id"]
    response = login(supervisor).get(reverse("patients:merge"), {"a": a.pk, "b": b.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert ID_A not in html and "张三" not in html
    assert f'name="survivor" value="{a.pk}"' in html and f'name="survivor" value="{b.pk}"' in html


def test_merging_moves_encounters_and_identifiers_and_is_audited(twins, supervisor, login):
    survivor, merged = twins["id"]
    PatientIdentifier.objects.create(patient=merged, system="HIS", value="H-778")
    client = login(supervisor)
    response = client.post(reverse("patients:merge"), {"a": survivor.pk, "b": merged.pk, "survivor": survivor.pk, "reason": "同一身份证"})
    assert response.status_code == 302
    merged.refresh_from_db()
    assert merged.merged_into_id == survivor.pk
    assert Encounter.objects.filter(patient=merged).count() == 0
    assert Encounter.objects.filter(patient=survivor).count() == 3
    assert PatientIdentifier.objects.filter(patient=survivor, system="HIS", value="H-778").exists()
    assert AuditEvent.objects.filter(verb__contains="merge", object_id=str(survivor.pk)).exists() or \
        AuditEvent.objects.filter(verb__contains="merge", object_id=str(merged.pk)).exists()
    reasoned = AuditEvent.objects.filter(verb__contains="merge", purpose="同一身份证")
    assert reasoned.exists()
    assert response["Location"] == reverse("patients:detail", args=[survivor.pk])
    # the merged record's page now leads to the survivor, and it is no longer a candidate
    page = client.get(reverse("patients:detail", args=[merged.pk]))
    assert page.status_code == 302 and page["Location"] == reverse("patients:detail", args=[survivor.pk])
    assert (survivor.pk, merged.pk) not in {(c.first.pk, c.second.pk) for c in candidate_pairs(Patient.objects.active())}


def test_a_merge_needs_a_survivor_and_a_reason(twins, supervisor, login):
    a, b = twins["op"]
    response = login(supervisor).post(reverse("patients:merge"), {"a": a.pk, "b": b.pk, "survivor": "", "reason": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert "请选择保留哪一份档案" in html and "请填写合并原因" in html
    assert Patient.objects.get(pk=b.pk).merged_into_id is None


def test_a_record_cannot_be_merged_with_itself_or_an_unknown_one(twins, supervisor, login):
    a, _b = twins["op"]
    client = login(supervisor)
    response = client.post(reverse("patients:merge"), {"a": a.pk, "b": a.pk, "survivor": a.pk, "reason": "x"})
    assert response.status_code == 400
    assert client.get(reverse("patients:merge"), {"a": a.pk, "b": 999999}).status_code == 404
    assert client.get(reverse("patients:merge"), {"a": "abc", "b": a.pk}).status_code == 404
