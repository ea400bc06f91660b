"""FHIR R4 read endpoints for questionnaires (mounted in caredesk/api/fhir/urls.py).

- ``GET /fhir/Questionnaire`` (``url``, ``identifier``, ``version``, ``status``, ``_count``) and
  ``GET /fhir/Questionnaire/{id}`` where ``id`` is the version's primary key (the resource id) or
  ``<code>-v<number>`` (e.g. ``survey-outpatient-v1``). Definitions hold no patient data: any
  signed-in user or token may read them.
- ``GET /fhir/QuestionnaireResponse?questionnaire=…`` (a version id, ``<code>-v<n>``, the canonical
  ``urn:caredesk:questionnaire:<code>[|<n>]`` or the code; ``patient``, ``status``, ``_count``) and
  ``GET /fhir/QuestionnaireResponse/{id}``: need ``questionnaires.view_response``; scoped to the
  user's departments (department heads see only theirs); the patient appears as ``Patient/<id>``
  with a masked name; every response returned writes an audit event ``fhir.read``.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from caredesk.api.fhir.resources import searchset
from caredesk.api.fhir.views import BadRequest, _count, _guard, fhir_response, outcome
from caredesk.core import audit
from caredesk.core.scope import scope_to_user

from . import fhirmap
from .models import Answer, Item, QuestionnaireVersion, Response, Section

VIEW_RESPONSES = "questionnaires.view_response"
QUESTIONNAIRE_PARAMS = {"url", "identifier", "version", "status", "_count", "_format"}
RESPONSE_PARAMS = {"questionnaire", "patient", "subject", "status", "_count", "_format"}
FHIR_TO_STATUS = {v: k for k, v in fhirmap.STATUS_TO_FHIR.items()}
CODE_VERSION = re.compile(r"^(?P<code>[A-Za-z0-9_-]+)-v(?P<number>\d+)$")


def _versions() -> QuerySet[QuestionnaireVersion]:
    items = Item.objects.select_related("dimension").order_by("section__order", "order", "id")
    return QuestionnaireVersion.objects.select_related("questionnaire").prefetch_related(
        Prefetch("items", queryset=items, to_attr="loaded_items"),
        Prefetch("sections", queryset=Section.objects.order_by("order", "id"), to_attr="loaded_sections"),
    )


def _resource(version: QuestionnaireVersion) -> dict[str, Any]:
    return fhirmap.questionnaire_resource(version, version.loaded_sections, version.loaded_items)  # type: ignore[attr-defined]


def _version_query(raw: str) -> Q:
    """A questionnaire reference as a filter on QuestionnaireVersion."""
    raw = raw.strip()
    if raw.isdigit():
        return Q(pk=int(raw))
    match = CODE_VERSION.match(raw)
    if match:
        return Q(questionnaire__code=match["code"], number=int(match["number"])) | Q(questionnaire__code=raw)
    if raw.startswith(fhirmap.QUESTIONNAIRE_URL):
        code, bar, number = raw[len(fhirmap.QUESTIONNAIRE_URL):].partition("|")
        if bar:
            if not number.isdigit():
                raise BadRequest(_("questionnaire 的版本号必须是数字。"))
            return Q(questionnaire__code=code, number=int(number))
        return Q(questionnaire__code=code)
    if raw.startswith("Questionnaire/"):
        return _version_query(raw.removeprefix("Questionnaire/"))
    if raw:
        return Q(questionnaire__code=raw)
    raise BadRequest(_("questionnaire 参数不能为空。"))


@csrf_exempt
def questionnaire_search(request: HttpRequest) -> HttpResponse:
    _user, error = _guard(request, QUESTIONNAIRE_PARAMS)
    if error:
        return error
    try:
        count = _count(request)
        query = Q()
        if request.GET.get("url"):
            url, bar, number = request.GET["url"].partition("|")
            query &= Q(questionnaire__code=url.removeprefix(fhirmap.QUESTIONNAIRE_URL))
            if bar:
                query &= Q(number=int(number)) if number.isdigit() else Q(pk__in=[])
        if request.GET.get("identifier"):
            query &= Q(questionnaire__code=request.GET["identifier"].rpartition("|")[2])
        if request.GET.get("version"):
            version = request.GET["version"]
            if not version.isdigit():
                raise BadRequest(_("version 必须是数字。"))
            query &= Q(number=int(version))
        if request.GET.get("status"):
            statuses = [FHIR_TO_STATUS.get(s.strip()) for s in request.GET["status"].split(",")]
            if None in statuses:
                raise BadRequest(_("status 只能是 draft、active 或 retired。"))
            query &= Q(status__in=statuses)
    except BadRequest as exc:
        return outcome(400, "invalid", str(exc))
    matches = QuestionnaireVersion.objects.filter(query)
    total = matches.count()
    versions = list(_versions().filter(pk__in=matches.values("pk")).order_by("questionnaire__code", "-number")[:count])
    entries = [(request.build_absolute_uri(f"/fhir/Questionnaire/{v.pk}"), _resource(v)) for v in versions]
    return fhir_response(searchset(entries, total, request.build_absolute_uri()))


@csrf_exempt
def questionnaire_read(request: HttpRequest, ref: str) -> HttpResponse:
    _user, error = _guard(request, {"_format"})
    if error:
        return error
    version = None
    if ref.isdigit():
        version = _versions().filter(pk=int(ref)).first()
    elif match := CODE_VERSION.match(ref):
        version = _versions().filter(questionnaire__code=match["code"], number=int(match["number"])).first()
    if version is None:
        return outcome(404, "not-found", _("Questionnaire/%(id)s 不存在。") % {"id": ref})
    return fhir_response(_resource(version))


def _responses(user: Any) -> QuerySet[Response]:
    items = Item.objects.select_related("section")
    return scope_to_user(Response.objects.all(), user, department_field="department").select_related(
        "patient", "respondent", "version__questionnaire"
    ).prefetch_related(
        Prefetch("answers", queryset=Answer.objects.select_related("item__section")),
        Prefetch("version__sections", queryset=Section.objects.order_by("order", "id"), to_attr="loaded_sections"),
        Prefetch("version__items", queryset=items, to_attr="loaded_items"),
    )


def _response_resource(response: Response) -> dict[str, Any]:
    version = response.version
    return fhirmap.response_resource(response, version.loaded_sections, version.loaded_items)  # type: ignore[attr-defined]


def _audit(request: HttpRequest, user: Any, responses: list[Response]) -> None:
    token = getattr(request, "api_token", None)
    for response in responses:
        audit.record(
            actor=user, verb="fhir.read", target=response.patient if response.patient_id else response,
            resource="QuestionnaireResponse", response=response.pk, token_id=token.pk if token else None,
        )


def _may_read_responses(user: Any) -> HttpResponse | None:
    if not user.has_perm(VIEW_RESPONSES):
        return outcome(403, "forbidden", _("没有查看问卷答卷的权限。"))
    return None


@csrf_exempt
def response_search(request: HttpRequest) -> HttpResponse:
    user, error = _guard(request, RESPONSE_PARAMS)
    if error:
        return error
    if denied := _may_read_responses(user):
        return denied
    try:
        count = _count(request)
        query = Q()
        reference = request.GET.get("questionnaire")
        patient = request.GET.get("patient") or request.GET.get("subject")
        if reference is None and patient is None:
            raise BadRequest(_("请提供 questionnaire 或 patient 查询参数。"))
        if reference is not None:
            query &= Q(version__in=QuestionnaireVersion.objects.filter(_version_query(reference)))
        if patient is not None:
            pk = patient.removeprefix("Patient/")
            if not pk.isdigit():
                raise BadRequest(_("patient 参数必须是 Patient/<编号> 或编号。"))
            query &= Q(patient_id=int(pk))
        if request.GET.get("status"):
            wanted = {"completed": Response.Status.COMPLETED, "in-progress": Response.Status.IN_PROGRESS}
            statuses = [wanted.get(s.strip()) for s in request.GET["status"].split(",")]
            if None in statuses:
                raise BadRequest(_("status 只能是 completed 或 in-progress。"))
            query &= Q(status__in=statuses)
    except BadRequest as exc:
        return outcome(400, "invalid", str(exc))
    matches = _responses(user).filter(query).order_by("-pk")
    total = matches.count()
    responses = list(matches[:count])
    entries = [(request.build_absolute_uri(f"/fhir/QuestionnaireResponse/{r.pk}"), _response_resource(r)) for r in responses]
    body = searchset(entries, total, request.build_absolute_uri())
    _audit(request, user, responses)
    return fhir_response(body)


@csrf_exempt
def response_read(request: HttpRequest, pk: int) -> HttpResponse:
    user, error = _guard(request, {"_format"})
    if error:
        return error
    if denied := _may_read_responses(user):
        return denied
    response = _responses(user).filter(pk=pk).first()
    if response is None:
        return outcome(404, "not-found", _("QuestionnaireResponse/%(id)s 不存在。") % {"id": pk})
    body = _response_resource(response)
    _audit(request, user, [response])
    return fhir_response(body)

