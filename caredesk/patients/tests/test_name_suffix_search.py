"""Name "contains" search through the suffix table: database triggers keep it in step with every
writer of ``Patient.name`` (runs on SQLite and, with DATABASE_URL, on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.urls import reverse

from caredesk.patients import actions, fastsql, models
from caredesk.patients.data import EncounterData, PatientData
from caredesk.patients.models import Patient, PatientNameSuffix
from caredesk.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

UYGHUR = "买买提·艾力·阿不都热合曼"


def _expected(name: str) -> set[str]:
    return {name[i:] for i in range(1, len(name))}


def _suffixes(pk: int) -> set[str]:
    return set(PatientNameSuffix.objects.filter(patient_id=pk).values_list("suffix", flat=True))


def assert_in_step() -> None:
    """The whole table is exactly the suffixes (2nd character on) of every patient's name."""
    want = {(s, pk) for pk, name in Patient.objects.values_list("pk", "name") for s in _expected(name)}
    have = set(PatientNameSuffix.objects.values_list("suffix", "patient_id"))
    assert have == want


def test_orm_create_rename_other_update_and_delete_keep_the_suffixes(org):
    wang = Patient.objects.create(name="王小明")
    assert _suffixes(wang.pk) == {"小明", "明"}
    wang.name = "王晓明"
    wang.save()
    assert _suffixes(wang.pk) == {"晓明", "明"}
    wang.notes = "换了病历本"
    wang.save()  # UPDATE of every column, same name: nothing changes
    Patient.objects.filter(pk=wang.pk).update(name="欧阳晓明")
    assert _suffixes(wang.pk) == {"阳晓明", "晓明", "明"}
    other = Patient.objects.create(name="李明")
    wang.delete()
    assert not _suffixes(wang.pk)
    assert _suffixes(other.pk) == {"明"}
    assert_in_step()


def test_single_character_empty_long_and_repeated_names(org):
    one = Patient.objects.create(name="王")
    empty = Patient.objects.create(name="")
    same = Patient.objects.create(name="王王王")
    longest = Patient.objects.create(name="阿" * 30 + "买" * 30)  # max_length 60
    uyghur = Patient.objects.create(name=UYGHUR)
    assert not _suffixes(one.pk) and not _suffixes(empty.pk)
    assert _suffixes(same.pk) == {"王王", "王"}
    assert len(_suffixes(longest.pk)) == 59
    assert _suffixes(uyghur.pk) == _expected(UYGHUR)
    assert_in_step()


def test_bulk_create_bulk_update_and_raw_sql_inserts_keep_the_suffixes(org):
    made = Patient.objects.bulk_create([Patient(name=f"赵钱{chr(0x4E00 + i)}") for i in range(50)])
    for p in made[:10]:
        p.name = "孙" + p.name
    Patient.objects.bulk_update(made[:10], ["name"])
    assert _suffixes(made[0].pk) == _expected("孙赵钱一")
    # the feeds' plain-SQL paths (HL7 single rows, visit import batches)
    fastsql.insert(fastsql.new_instance(Patient, name="周吴郑"))
    fastsql.insert_many([fastsql.new_instance(Patient, name=f"冯陈{c}") for c in "褚卫蒋"])
    columns = [f for f in Patient._meta.concrete_fields if not f.primary_key]
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO patients_patient ({}) VALUES ({})".format(  # noqa: S608 - model column names
                ", ".join(connection.ops.quote_name(f.column) for f in columns), ", ".join(["%s"] * len(columns))
            ),
            [f.get_db_prep_save("沈韩杨" if f.name == "name" else f.pre_save(Patient(), True), connection) for f in columns],
        )
    assert set(Patient.objects.search("韩杨")) == {Patient.objects.get(name="沈韩杨")}
    assert_in_step()
    Patient.objects.filter(name__startswith="赵").delete()
    assert_in_step()


def test_upsert_and_merge_keep_the_suffixes(org, supervisor):
    a = make_patient("王小明", mobile="13700000001")
    b = make_patient("王晓明", mobile="13700000002")
    actions.merge_patients(a, b, acting_user=supervisor)
    assert_in_step()
    # the merged record keeps its name but is no longer found by the list (active only)
    assert set(Patient.objects.active().search("晓明")) == set()
    assert set(Patient.objects.active().search("小明")) == {a}


@pytest.mark.parametrize("text", ["王小明", "小", "明", "小明", "王小", "王"])
def test_contains_finds_prefixes_middles_ends_and_single_characters(text, org):
    wang = make_patient("王小明", mobile="13700000001")
    make_patient("李四", mobile="13700000002")
    assert list(Patient.objects.search(text)) == [wang]


def test_contains_does_not_find_what_is_not_in_the_name(org):
    make_patient("王小明", mobile="13700000001")
    for text in ["明王", "小王", "王明", "大", "王小明明", "王%", "小_", "王\\"]:
        assert not Patient.objects.search(text), text


def test_long_names_with_middle_dots_are_found_by_any_part(org):
    uyghur = make_patient(UYGHUR, mobile="13700000003")
    for text in ["艾力", "·艾力·", "阿不都热合曼", "曼", UYGHUR]:
        assert list(Patient.objects.search(text)) == [uyghur], text


def test_a_name_search_finds_both_the_prefix_and_the_middle(org):
    wang, xiaowang, li = (make_patient(n, mobile=f"1370000000{i}") for i, n in enumerate(["王芳", "李王", "李四"]))
    assert set(Patient.objects.search("王")) == {wang, xiaowang}
    assert li not in set(Patient.objects.search("王"))


def test_the_list_page_finds_a_middle_character_masked_and_scoped(org, login, agent, dept_head):
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    wang, _ = actions.upsert_patient(PatientData(name="王小明", mobile="13812345678"), source="test")
    actions.record_encounter(wang, EncounterData("outpatient", "HIS", "V1", department="WK-GK", visit_at=t0))
    li, _ = actions.upsert_patient(PatientData(name="李小红", mobile="13900005678"), source="test")
    actions.record_encounter(li, EncounterData("outpatient", "HIS", "V2", department="NK", visit_at=t0))
    html = login(agent).get(reverse("patients:list"), {"q": "小"}).content.decode()
    assert "王*" in html and "李*" in html and "138****5678" in html
    assert "王小明" not in html and "13812345678" not in html and "找到 2 位患者" in html
    html = login(dept_head).get(reverse("patients:list"), {"q": "小"}).content.decode()
    assert "王*" in html and "李*" not in html  # 骨科 is below the head's 外科; 内科 is not


def test_a_capped_search_says_so_and_pages_in_page_order(org, login, agent, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(models, "SEARCH_CAP", 30)
    for i in range(40):
        p = make_patient(f"田{chr(0x4E00 + i)}", mobile=f"1370000{i:04d}")
        Patient.objects.filter(pk=p.pk).update(last_visit_at=datetime(2026, 1, 1 + i % 28, tzinfo=UTC))
    client = login(agent)
    client.get(reverse("patients:list"), {"q": "田"})
    with django_assert_max_num_queries(16):
        response = client.get(reverse("patients:list"), {"q": "田"})
    html = response.content.decode()
    assert "匹配的患者很多" in html and "30" in html and "第 1 / 2 页" in html
    page = response.context["page"]
    visits = [p.last_visit_at for p in page]
    assert len(visits) == 25 and visits == sorted(visits, reverse=True)
    second = client.get(reverse("patients:list"), {"q": "田", "page": 2}).context["page"]
    assert len(list(second)) == 5 and not {p.pk for p in second} & {p.pk for p in page}
    html = client.get(reverse("patients:list"), {"q": "田一"}).content.decode()
    assert "找到 1 位患者" in html and "匹配的患者很多" not in html


def test_the_upper_bound_of_a_prefix_range():
    from caredesk.patients.models import _after_prefix

    assert _after_prefix("王小") == "王尐"  # 小 U+5C0F → 尐 U+5C10
    assert _after_prefix("王\ud7ff") == "王\ue000"
    assert _after_prefix("王\U0010ffff") == "玌"  # 王 U+738B → U+738C
    assert _after_prefix("\U0010ffff") is None
    assert "王小" + "\U0010ffff" * 5 < _after_prefix("王小") <= "王少"


def test_a_query_longer_than_any_name_finds_nothing(org):
    make_patient("阿" * 60, mobile="13700000009")
    assert not Patient.objects.search("阿" * 61)
    assert Patient.objects.search("阿" * 60).count() == 1
