from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import actions, engine
from .forms import DimensionForm, ItemForm, QuestionnaireForm, SectionForm, VersionForm, fields_for
from .models import Dimension, Item, Questionnaire, QuestionnaireVersion, Section


@login_required
@permission_required("questionnaires.view_questionnaire", raise_exception=True)
def questionnaire_list(request: HttpRequest) -> HttpResponse:
    questionnaires = Questionnaire.objects.annotate(
        version_count=Count("versions", distinct=True), latest=Max("versions__number"),
    ).select_related("department")
    return render(request, "questionnaires/list.html", {"questionnaires": questionnaires})


@login_required
@permission_required("questionnaires.view_questionnaire", raise_exception=True)
def questionnaire_detail(request: HttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """A version's items, with a phone-sized preview that validates and scores a trial answer
    without storing it."""
    questionnaire = get_object_or_404(Questionnaire, pk=pk)
    versions = list(questionnaire.versions.all())
    if number is None:
        version = questionnaire.published_version() or (versions[0] if versions else None)
    else:
        version = get_object_or_404(QuestionnaireVersion, questionnaire=questionnaire, number=number)
    context: dict = {"questionnaire": questionnaire, "versions": versions, "version": version}
    if version is not None:
        spec = engine.VersionSpec.load(version)
        values: dict = {}
        errors: dict = {}
        if request.method == "POST":
            raw = engine.raw_from_post(spec, request.POST)
            result = engine.evaluate(spec, raw)
            values, errors = raw, result.errors
            context["trial"] = result
        context["fields"] = fields_for(spec, values, errors)
        context["items"] = spec.items
    return render(request, "questionnaires/detail.html", context)


# --- builder (questionnaires.change_questionnaire) -------------------------------------------------

CHANGE = "questionnaires.change_questionnaire"


def _version(pk: int, number: int) -> QuestionnaireVersion:
    return get_object_or_404(QuestionnaireVersion.objects.select_related("questionnaire"), questionnaire_id=pk, number=number)


def _builder_url(version: QuestionnaireVersion) -> str:
    return reverse("questionnaires:edit", args=[version.questionnaire_id, version.number])


def _refused(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@login_required
@permission_required(CHANGE, raise_exception=True)
def questionnaire_create(request: HttpRequest) -> HttpResponse:
    form = QuestionnaireForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = actions.create_questionnaire(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("问卷已创建，现在可以添加题目。"))
            return redirect(_builder_url(version))
    return render(request, "questionnaires/create.html", {"form": form})


@login_required
@permission_required(CHANGE, raise_exception=True)
def questionnaire_build(request: HttpRequest, pk: int) -> HttpResponse:
    """The builder for the draft if there is one, else for the latest version (read-only)."""
    questionnaire = get_object_or_404(Questionnaire, pk=pk)
    version = (questionnaire.versions.filter(status=QuestionnaireVersion.Status.DRAFT).first()
               or questionnaire.versions.order_by("-number").first())
    if version is None:
        raise Http404
    return redirect(_builder_url(version))


@login_required
@permission_required(CHANGE, raise_exception=True)
def version_edit(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    version = _version(pk, number)
    form = VersionForm(request.POST or None, initial={
        "title": version.title, "introduction": version.introduction, "thanks": version.thanks})
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_version(version, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("已保存。"))
        return redirect(_builder_url(version))
    spec = engine.VersionSpec.load(version)
    sections = list(version.sections.order_by("order", "id"))
    by_section: dict[int | None, list] = {}
    for item in spec.items:
        by_section.setdefault(item.section_id, []).append(item)
    context = {
        "questionnaire": version.questionnaire, "version": version, "form": form,
        "versions": list(version.questionnaire.versions.all()),
        "sections": [(s, by_section.get(s.pk, [])) for s in sections],
        "loose_items": by_section.get(None, []), "section_form": SectionForm(),
        "fields": fields_for(spec), "item_count": len(spec.items),
    }
    return render(request, "questionnaires/builder.html", context)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def section_add(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    version = _version(pk, number)
    form = SectionForm(request.POST)
    if form.is_valid():
        try:
            actions.add_section(version, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _refused(request, exc)
    return redirect(_builder_url(version))


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def section_change(request: HttpRequest, section_id: int, action: str) -> HttpResponse:
    section = get_object_or_404(Section.objects.select_related("version"), pk=section_id)
    try:
        if action == "edit":
            form = SectionForm(request.POST)
            if form.is_valid():
                actions.update_section(section, acting_user=request.user, **form.cleaned_data)
        elif action == "delete":
            actions.delete_section(section, acting_user=request.user)
        elif action == "move":
            actions.move_section(section, request.POST.get("direction", ""), acting_user=request.user)
        else:
            raise Http404
    except ValidationError as exc:
        _refused(request, exc)
    return redirect(_builder_url(section.version) + f"#section-{section.pk}")


def _item_form_page(request: HttpRequest, version: QuestionnaireVersion, item: Item | None,
                    section: Section | None) -> HttpResponse:
    form = ItemForm(request.POST or None, version=version, item=item, section=section)
    if request.method == "POST" and form.is_valid():
        try:
            if item is None:
                chosen = form.cleaned_data["section"]
                item = actions.add_item(version, form.item_data, section=chosen, acting_user=request.user)
                messages.success(request, _("题目已添加。"))
            else:
                data = {**form.item_data}
                chosen = form.cleaned_data["section"]
                item = actions.update_item(item, data, acting_user=request.user)
                if chosen.pk != item.section_id:
                    actions.move_item_to_section(item, chosen, acting_user=request.user)
                messages.success(request, _("题目已保存。"))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(_builder_url(version) + f"#item-{item.pk}")
    return render(request, "questionnaires/item_form.html", {
        "form": form, "version": version, "questionnaire": version.questionnaire, "item": item,
        "dimensions": Dimension.objects.filter(is_active=True),
    })


@login_required
@permission_required(CHANGE, raise_exception=True)
def item_add(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    version = _version(pk, number)
    if not version.is_editable:
        messages.error(request, _("已发布或已停用的版本是只读的，请先新建草稿再修改。"))
        return redirect(_builder_url(version))
    section_id = str(request.GET.get("section") or request.POST.get("section") or "")
    section = version.sections.filter(pk=int(section_id)).first() if section_id.isdigit() else None
    return _item_form_page(request, version, None, section or version.sections.order_by("-order").first())


@login_required
@permission_required(CHANGE, raise_exception=True)
def item_edit(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(Item.objects.select_related("version__questionnaire", "section"), pk=item_id)
    if not item.version.is_editable:
        messages.error(request, _("已发布或已停用的版本是只读的，请先新建草稿再修改。"))
        return redirect(_builder_url(item.version))
    return _item_form_page(request, item.version, item, item.section)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def item_change(request: HttpRequest, item_id: int, action: str) -> HttpResponse:
    item = get_object_or_404(Item.objects.select_related("version__questionnaire"), pk=item_id)
    version = item.version
    anchor = ""
    try:
        if action == "delete":
            actions.delete_item(item, acting_user=request.user)
            messages.success(request, _("题目已删除。"))
        elif action == "move":
            actions.move_item(item, request.POST.get("direction", ""), acting_user=request.user)
            anchor = f"#item-{item.pk}"
        else:
            raise Http404
    except ValidationError as exc:
        _refused(request, exc)
    return redirect(_builder_url(version) + anchor)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def version_publish(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    version = _version(pk, number)
    try:
        actions.publish_draft(version, acting_user=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("v%(n)s 已发布，之后的答卷都使用这个版本。") % {"n": version.number})
    return redirect(_builder_url(version))


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def draft_create(request: HttpRequest, pk: int) -> HttpResponse:
    questionnaire = get_object_or_404(Questionnaire, pk=pk)
    version = actions.new_draft(questionnaire, acting_user=request.user)
    messages.success(request, _("已新建草稿 v%(n)s，可以修改了。") % {"n": version.number})
    return redirect(_builder_url(version))


@login_required
@permission_required(CHANGE, raise_exception=True)
def dimension_list(request: HttpRequest) -> HttpResponse:
    form = DimensionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.add_dimension(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("评分维度已添加。"))
            return redirect("questionnaires:dimensions")
    return render(request, "questionnaires/dimensions.html",
                  {"form": form, "dimensions": Dimension.objects.all()})


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def dimension_edit(request: HttpRequest, dimension_id: int) -> HttpResponse:
    dimension = get_object_or_404(Dimension, pk=dimension_id)
    name = request.POST.get("name", "").strip()
    if not name:
        messages.error(request, _("请填写维度名称。"))
    else:
        try:
            actions.update_dimension(dimension, name=name[:40], is_active=request.POST.get("is_active") == "on",
                                     acting_user=request.user)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("评分维度已保存。"))
    return redirect("questionnaires:dimensions")
