"""The builder: audited edits on drafts only, whole-version checks, forms with Chinese messages, pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from caredesk.core.models import AuditEvent
from caredesk.questionnaires import actions
from caredesk.questionnaires.forms import ItemForm, parse_choices
from caredesk.questionnaires.models import Dimension, Item, Questionnaire, QuestionnaireVersion

pytestmark = pytest.mark.django_db

YES_NO = [{"code": "yes", "label": "是", "score": 5}, {"code": "no", "label": "否", "score": 1}]


@pytest.fixture
def draft(supervisor: Any) -> QuestionnaireVersion:
    version = actions.create_questionnaire(code="er-survey", title="急诊满意度", purpose="survey", acting_user=supervisor)
    actions.add_item(version, {"link_id": "waited", "text": "是否等候超过一小时", "kind": "single", "choices": YES_NO,
                               "required": True, "dimension": "efficiency"}, acting_user=supervisor)
    actions.add_item(version, {"link_id": "overall", "text": "总体评价", "kind": "rating", "red_flag": {"max": 2}},
                     acting_user=supervisor)
    actions.add_item(version, {"link_id": "why", "text": "哪里不满意", "kind": "textarea",
                               "enable_when": [{"item": "overall", "op": "<=", "value": 2}]}, acting_user=supervisor)
    return version


def links(version: QuestionnaireVersion) -> list[str]:
    return [i.link_id for i in actions.ordered_items(version)]


def test_items_are_added_in_order_and_audited(draft: QuestionnaireVersion, supervisor: Any) -> None:
    assert links(draft) == ["waited", "overall", "why"]
    assert [i.order for i in actions.ordered_items(draft)] == [1, 2, 3]
    verbs = list(AuditEvent.objects.filter(actor=supervisor).values_list("verb", flat=True))
    assert verbs.count("questionnaire.item_added") == 3 and "questionnaire.created" in verbs
    auto = actions.add_item(draft, {"text": "自动代码", "kind": "text"})
    assert auto.link_id == "q4"


def test_moving_an_item_above_the_item_its_condition_uses_is_refused(draft: QuestionnaireVersion) -> None:
    why = draft.items.get(link_id="why")
    with pytest.raises(ValidationError, match="只能引用它前面的题目"):
        actions.move_item(why, "up")
    assert links(draft) == ["waited", "overall", "why"]  # rolled back
    actions.move_item(draft.items.get(link_id="waited"), "down")
    assert links(draft) == ["overall", "waited", "why"]
    actions.move_item(draft.items.get(link_id="overall"), "up")  # already first: nothing happens
    assert links(draft) == ["overall", "waited", "why"]


def test_items_move_across_sections(draft: QuestionnaireVersion) -> None:
    second = actions.add_section(draft, title="第二部分")
    actions.move_item(draft.items.get(link_id="why"), "down")  # last of its section → into the next one
    why = draft.items.get(link_id="why")
    assert why.section_id == second.pk and links(draft) == ["waited", "overall", "why"]
    actions.move_item(why, "up")  # first of its section → back to the end of the one above
    assert draft.items.get(link_id="why").section_id != second.pk
    actions.move_item_to_section(draft.items.get(link_id="waited"), second)
    assert links(draft) == ["overall", "why", "waited"]
    with pytest.raises(ValidationError, match="还有题目"):
        actions.delete_section(second)
    spec = actions.spec_of(draft)
    assert [[i["link_id"] for i in s["items"]] for s in spec["sections"]] == [["overall", "why"], ["waited"]]


def test_delete_refuses_an_item_other_conditions_use(draft: QuestionnaireVersion) -> None:
    with pytest.raises(ValidationError, match="哪里不满意"):
        actions.delete_item(draft.items.get(link_id="overall"))
    actions.delete_item(draft.items.get(link_id="why"))
    actions.delete_item(draft.items.get(link_id="overall"))
    assert links(draft) == ["waited"]


def test_renaming_a_link_id_rewrites_the_conditions(draft: QuestionnaireVersion) -> None:
    actions.update_item(draft.items.get(link_id="overall"), {"link_id": "overall_rating"})
    assert draft.items.get(link_id="why").enable_when == [{"item": "overall_rating", "op": "<=", "value": 2}]
    with pytest.raises(ValidationError, match="重复"):
        actions.update_item(draft.items.get(link_id="why"), {"link_id": "waited"})


def test_a_condition_on_an_unknown_option_code_is_refused(draft: QuestionnaireVersion) -> None:
    with pytest.raises(ValidationError, match="不是“是否等候超过一小时”的选项代码"):
        actions.add_item(draft, {"link_id": "x", "text": "x", "kind": "text",
                                 "enable_when": [{"item": "waited", "op": "=", "value": "maybe"}]})
    assert not draft.items.filter(link_id="x").exists()


def test_published_versions_are_read_only_and_a_new_draft_copies(draft: QuestionnaireVersion, supervisor: Any) -> None:
    actions.publish_draft(draft, acting_user=supervisor)
    draft.refresh_from_db()
    assert draft.status == QuestionnaireVersion.Status.PUBLISHED
    item = draft.items.get(link_id="why")
    for attempt in (
        lambda: actions.add_item(draft, {"text": "x", "kind": "text"}),
        lambda: actions.update_item(item, {"text": "改"}),
        lambda: actions.delete_item(item),
        lambda: actions.move_item(item, "up"),
        lambda: actions.add_section(draft, title="x"),
        lambda: actions.update_version(draft, title="x"),
    ):
        with pytest.raises(ValidationError, match="只读"):
            attempt()
    v2 = actions.new_draft(draft.questionnaire, acting_user=supervisor)
    assert v2.number == 2 and links(v2) == links(draft)
    actions.update_item(v2.items.get(link_id="why"), {"text": "哪些方面需要改进"})
    assert draft.items.get(link_id="why").text == "哪里不满意"


def test_publish_checks_the_whole_version(supervisor: Any) -> None:
    version = actions.create_questionnaire(code="empty", title="空问卷")
    with pytest.raises(ValidationError, match="至少需要一道题"):
        actions.publish_draft(version)
    item = actions.add_item(version, {"link_id": "a", "text": "甲", "kind": "single", "choices": YES_NO})
    Item.objects.filter(pk=item.pk).update(choices=[])  # bypassing the builder
    with pytest.raises(ValidationError, match="至少需要一个选项"):
        actions.publish_draft(version)


def test_dimensions_add_rename_deactivate(supervisor: Any) -> None:
    dim = actions.add_dimension(code="parking", name="停车", acting_user=supervisor)
    with pytest.raises(ValidationError, match="已存在"):
        actions.add_dimension(code="parking", name="停车场")
    actions.update_dimension(dim, name="停车便利", is_active=False, acting_user=supervisor)
    dim.refresh_from_db()
    assert dim.name == "停车便利" and not dim.is_active
    version = actions.create_questionnaire(code="dim-q", title="维度")
    form = ItemForm(version=version)
    assert dim not in form.fields["dimension"].queryset  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(verb="questionnaire.dimension_edited").exists()


@pytest.mark.parametrize(("text", "message"), [
    ("5|很满意|5\n4很满意", "第 2 行格式不对"),
    ("5|很满意|高", "第 1 行：分值必须是数字"),
    ("a|甲\na|乙", "第 2 行：选项代码 a 重复"),
    ("很 满|甲", "选项代码只能用字母"),
])
def test_choice_lines_get_chinese_messages(text: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        parse_choices(text)


def test_parse_choices_reads_codes_labels_scores() -> None:
    assert parse_choices("5|很满意|5\n\n 1 ｜ 很不满意 ｜ 1.5 \nna|不适用") == [
        {"code": "5", "label": "很满意", "score": 5}, {"code": "1", "label": "很不满意", "score": 1.5},
        {"code": "na", "label": "不适用"}]


def _post(**extra: Any) -> dict[str, Any]:
    return {"text": "新题", "kind": "text", "enable_behavior": "all", **extra}


def test_item_form_conditions_and_red_flags(draft: QuestionnaireVersion) -> None:
    section = draft.sections.first()
    form = ItemForm(_post(section=section.pk, cond0_item="waited", cond0_op="=", cond0_value="maybe"),
                    version=draft, section=section)
    assert not form.is_valid() and "不是“是否等候超过一小时”的选项代码" in form.errors["cond0_value"][0]
    form = ItemForm(_post(section=section.pk, cond0_item="overall", cond0_op="<=", cond0_value="两"),
                    version=draft, section=section)
    assert not form.is_valid() and "比较值必须是数字" in form.errors["cond0_value"][0]
    form = ItemForm(_post(section=section.pk, cond0_item="overall", cond0_op="<="), version=draft, section=section)
    assert not form.is_valid() and form.errors["cond0_value"] == ["请填写比较值。"]
    form = ItemForm(_post(section=section.pk, kind="single", choices_text="a|甲|1", red_flag_choices="b"),
                    version=draft, section=section)
    assert not form.is_valid() and "不在选项列表中" in form.errors["red_flag_choices"][0]
    form = ItemForm(_post(section=section.pk, kind="single"), version=draft, section=section)
    assert not form.is_valid() and form.errors["choices_text"] == ["单选或多选题至少需要一个选项。"]
    form = ItemForm(_post(section=section.pk, kind="single", choices_text="a|甲|1\nb|乙|0", red_flag_choices="b",
                          cond0_item="waited", cond0_op="in", cond0_value="yes，no", cond1_item="overall",
                          cond1_op="answered", enable_behavior="any"), version=draft, section=section)
    assert form.is_valid(), form.errors
    assert form.item_data["enable_when"] == [{"item": "waited", "op": "in", "value": ["yes", "no"]},
                                             {"item": "overall", "op": "answered"}]
    assert form.item_data["red_flag"] == {"choices": ["b"]}
    # editing an item offers only the items before it
    why = draft.items.get(link_id="why")
    assert [i.link_id for i in ItemForm(version=draft, item=why).earlier] == ["waited", "overall"]
    assert ItemForm(version=draft, item=why).initial["cond0_value"] == 2
    # an item with more conditions than the default three rows keeps them all when edited
    many = [{"item": "waited", "op": "answered"}, {"item": "overall", "op": ">", "value": 1},
            {"item": "overall", "op": "<", "value": 5}, {"item": "waited", "op": "!=", "value": "no"}]
    actions.update_item(why, {"enable_when": many})
    form = ItemForm({**ItemForm.initial_for(why), "section": why.section_id}, version=draft, item=why)
    assert form.rows == 4 and form.is_valid(), form.errors
    assert form.item_data["enable_when"] == many


# --- pages -----------------------------------------------------------------------------------------


def test_builder_pages_need_the_change_permission(client: Any, login: Any, agent: Any, draft: QuestionnaireVersion) -> None:
    login(agent)
    q = draft.questionnaire
    assert client.get("/questionnaires/new/").status_code == 403
    assert client.get(f"/questionnaires/{q.pk}/v1/edit/").status_code == 403
    assert client.post(f"/questionnaires/{q.pk}/v1/publish/").status_code == 403
    assert client.get("/questionnaires/dimensions/").status_code == 403


def test_supervisor_builds_and_publishes_through_the_pages(client: Any, login: Any, supervisor: Any) -> None:
    login(supervisor)
    page = client.post("/questionnaires/new/", {"code": "bad code", "title": "", "purpose": "survey"})
    body = page.content.decode()
    assert "问卷代码只能包含英文字母" in body and "请填写标题。" in body
    page = client.post("/questionnaires/new/", {"code": "ward-survey", "title": "病区满意度", "purpose": "survey"})
    q = Questionnaire.objects.get(code="ward-survey")
    assert page.status_code == 302 and page["Location"] == f"/questionnaires/{q.pk}/v1/edit/"
    version = q.versions.get()
    section = version.sections.get()
    add = f"/questionnaires/{q.pk}/v1/items/add/?section={section.pk}"
    assert "选项与分值" in client.get(add).content.decode()
    bad = client.post(add, {"text": "护士态度", "kind": "single", "section": section.pk, "choices_text": "5|很好|x",
                            "enable_behavior": "all"})
    assert "第 1 行：分值必须是数字。" in bad.content.decode()
    client.post(add, {"text": "护士态度", "link_id": "nurse", "kind": "single", "section": section.pk,
                      "choices_text": "5|很好|5\n1|很差|1", "dimension": Dimension.objects.get(code="attitude").pk,
                      "required": "on", "enable_behavior": "all"})
    client.post(add, {"text": "哪里不好", "link_id": "nurse_why", "kind": "textarea", "section": section.pk,
                      "cond0_item": "nurse", "cond0_op": "=", "cond0_value": "1", "enable_behavior": "all"})
    assert links(version) == ["nurse", "nurse_why"]
    assert version.items.get(link_id="nurse_why").enable_when == [{"item": "nurse", "op": "=", "value": "1"}]
    page = client.get(f"/questionnaires/{q.pk}/v1/edit/").content.decode()
    assert "护士态度" in page and "phone-frame" in page and 'data-enable-when' in page and "发布" in page
    # the preview's trial answer goes to the detail page, which works for a draft too
    trial = client.post(f"/questionnaires/{q.pk}/v1/", {"nurse": "1"}).content.decode()
    assert "试填通过" in trial
    edit = client.post(f"/questionnaires/items/{version.items.get(link_id='nurse').pk}/move/", {"direction": "down"})
    assert edit.status_code == 302
    messages = client.get(edit["Location"]).content.decode()
    assert "只能引用它前面的题目" in messages
    assert client.post(f"/questionnaires/{q.pk}/v1/publish/").status_code == 302
    version.refresh_from_db()
    assert version.status == QuestionnaireVersion.Status.PUBLISHED
    page = client.get(f"/questionnaires/{q.pk}/v1/edit/").content.decode()
    assert "此版本为只读" in page and "新建草稿" in page and "添加题目" not in page
    item = version.items.get(link_id="nurse")
    refused = client.get(f"/questionnaires/items/{item.pk}/edit/")
    assert refused.status_code == 302
    client.post(f"/questionnaires/items/{item.pk}/delete/")
    assert version.items.filter(pk=item.pk).exists()
    draft = client.post(f"/questionnaires/{q.pk}/draft/")
    assert draft["Location"] == f"/questionnaires/{q.pk}/v2/edit/"
    page = client.get(f"/questionnaires/items/{q.versions.get(number=2).items.get(link_id='nurse_why').pk}/edit/")
    assert 'value="nurse_why"' in page.content.decode()


def test_builder_page_query_count_does_not_grow_with_items(client: Any, login: Any, supervisor: Any,
                                                          django_assert_max_num_queries: Any) -> None:
    version = actions.create_questionnaire(code="big", title="大问卷")
    for n in range(30):
        actions.add_item(version, {"link_id": f"r{n}", "text": f"评分 {n}", "kind": "rating", "dimension": "attitude"})
    login(supervisor)
    with django_assert_max_num_queries(20):
        assert client.get(f"/questionnaires/{version.questionnaire_id}/v1/edit/").status_code == 200


def test_dimension_pages(client: Any, login: Any, supervisor: Any) -> None:
    login(supervisor)
    assert "服务态度" in client.get("/questionnaires/dimensions/").content.decode()
    client.post("/questionnaires/dimensions/", {"code": "food", "name": "膳食"})
    dim = Dimension.objects.get(code="food")
    client.post(f"/questionnaires/dimensions/{dim.pk}/", {"name": "膳食服务"})
    dim.refresh_from_db()
    assert dim.name == "膳食服务" and not dim.is_active
    page = client.post("/questionnaires/dimensions/", {"code": "food", "name": "x"}).content.decode()
    assert "维度代码 food 已存在" in page
