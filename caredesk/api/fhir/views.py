"""The FHIR R4 façade: read-only Patient and Encounter for integrations.

Auth: a bearer token (the API's TokenAuth) or a staff session. Every result is scoped with
``visible_to(user)``. Identity data is masked unless ``_unmasked=true`` and the user holds
``accounts.reveal_pii``; every Patient in a response writes an audit event ``fhir.read``."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from caredesk.api.auth import session_auth, token_auth
from caredesk.core import audit, pii
from caredesk.core.indexes import hashed_lookup
from caredesk.patients.models import Encounter, Patient, PatientIdentifier

from . import mapping, resources

CONTENT_TYPE = "application/fhir+json; charset=utf-8"
DEFAULT_COUNT = 50
MAX_COUNT = 200
PATIENT_PARAMS = {"identifier", "phone", "_count", "_unmasked", "_format"}
ENCOUNTER_PARAMS = {"patient", "subject", "_count", "_format"}


def fhir_response(body: dict[str, Any], status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="caredesk-fhir"'
    return response


def outcome(status: int, code: str, message: str) -> HttpResponse:
    return fhir_response(resources.operation_outcome(code, message), status)


class BadRequest(Exception):
    pass


def authenticate(request: HttpRequest) -> Any:
    """The token's user (the same check as the JSON API), else the signed-in staff member."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token_auth.authenticate(request, token.strip())
    if header:
        return None
    return session_auth.authenticate(request, request.COOKIES.get(settings.SESSION_COOKIE_NAME))


def _guard(request: HttpRequest, allowed: set[str] | None = None) -> tuple[Any, HttpResponse | None]:
    if request.method not in ("GET", "HEAD"):
        return None, outcome(405, "not-supported", _("只支持读取（GET）。"))
    user = authenticate(request)
    if user is None:
        return None, outcome(401, "login", _("需要登录或有效的访问令牌。"))
    if allowed is not None:
        unknown = sorted(set(request.GET) - allowed)
        if unknown:
            return user, outcome(400, "not-supported", _("不支持的查询参数：%(names)s") % {"names": ", ".join(unknown)})
    return user, None


def _count(request: HttpRequest) -> int:
    raw = request.GET.get("_count", "")
    if not raw:
        return DEFAULT_COUNT
    if not raw.isdigit():
        raise BadRequest(_("_count 必须是正整数。"))
    return max(1, min(int(raw), MAX_COUNT))


def _unmasked(request: HttpRequest, user: Any) -> bool:
    raw = request.GET.get("_unmasked", "").lower()
    if raw in ("", "false"):
        return False
    if raw != "true":
        raise BadRequest(_("_unmasked 只能是 true 或 false。"))
    if not user.has_perm(pii.REVEAL_PERMISSION):
        raise PermissionError
    return True


def _audit_reads(request: HttpRequest, user: Any, patients: list[Patient], *, unmasked: bool, resource: str) -> None:
    token = getattr(request, "api_token", None)
    for patient in patients:
        audit.record(
            actor=user,
            verb="fhir.read",
            target=patient,
            resource=resource,
            unmasked=unmasked,
            token_id=token.pk if token else None,
        )


def _patient_query(request: HttpRequest) -> Q:
    identifier = request.GET.get("identifier")
    phone = request.GET.get("phone")
    if identifier is None and phone is None:
        raise BadRequest(_("请提供 identifier 或 phone 查询参数。"))
    query = Q()
    if phone is not None:
        if not pii.normalise("phone", phone):
            raise BadRequest(_("phone 不能为空。"))
        query &= hashed_lookup("mobile_bidx", pii.blind_index("phone", phone))
    if identifier is not None:
        system, bar, value = identifier.partition("|")
        if not bar:
            system, value = "", identifier
        value = value.strip()
        if not value:
            raise BadRequest(_("identifier 的值不能为空。"))
        query &= _identifier_query(system.strip(), value)
    return query


def _identifier_query(system: str, value: str) -> Q:
    by_ident = PatientIdentifier.objects.filter(value=value)
    if not system:
        return (
            hashed_lookup("id_number_bidx", pii.blind_index("id_number", value))
            | hashed_lookup("outpatient_no", value)
            | hashed_lookup("inpatient_no", value)
            | Q(pk__in=by_ident.values("patient_id"))
        )
    if system in mapping.ID_NUMBER_ALIASES:
        return hashed_lookup("id_number_bidx", pii.blind_index("id_number", value))
    if system == mapping.PATIENT_ID_SYSTEM:
        return Q(pk=int(value)) if value.isdigit() else Q(pk__in=[])
    if system in mapping.CORE_IDENTIFIERS:
        return Q(**{mapping.CORE_IDENTIFIERS[system][0]: value})
    if system.startswith(mapping.LOCAL_SYSTEM_PREFIX):
        stored = system[len(mapping.LOCAL_SYSTEM_PREFIX) :]
        return Q(pk__in=by_ident.filter(system=stored).values("patient_id"))
    return Q(pk__in=by_ident.filter(system__in=[f"FHIR:{system}", system]).values("patient_id"))


@csrf_exempt
def patient_read(request: HttpRequest, pk: int) -> HttpResponse:
    user, error = _guard(request, {"_unmasked", "_format"})
    if error:
        return error
    try:
        unmasked = _unmasked(request, user)
    except BadRequest as exc:
        return outcome(400, "invalid", str(exc))
    except PermissionError:
        return outcome(403, "forbidden", _("没有查看完整身份信息的权限。"))
    patient = Patient.objects.visible_to(user).prefetch_related("identifiers").filter(pk=pk).first()
    if patient is None:
        return outcome(404, "not-found", _("Patient/%(id)s 不存在。") % {"id": pk})
    body = resources.patient_resource(patient, unmasked=unmasked)
    _audit_reads(request, user, [patient], unmasked=unmasked, resource="Patient")
    return fhir_response(body)


@csrf_exempt
def patient_search(request: HttpRequest) -> HttpResponse:
    user, error = _guard(request, PATIENT_PARAMS)
    if error:
        return error
    try:
        unmasked = _unmasked(request, user)
        count = _count(request)
        query = _patient_query(request)
    except BadRequest as exc:
        return outcome(400, "invalid", str(exc))
    except PermissionError:
        return outcome(403, "forbidden", _("没有查看完整身份信息的权限。"))
    matches = Patient.objects.visible_to(user).filter(query).order_by("pk")
    total = matches.count()
    patients = list(matches.prefetch_related("identifiers")[:count])
    entries = [(request.build_absolute_uri(f"/fhir/Patient/{p.pk}"), resources.patient_resource(p, unmasked=unmasked)) for p in patients]
    body = resources.searchset(entries, total, request.build_absolute_uri())
    _audit_reads(request, user, patients, unmasked=unmasked, resource="Patient")
    return fhir_response(body)


def patient_search_params(request: HttpRequest) -> tuple[int, int] | HttpResponse:
    """The ``patient`` (or ``subject``) reference and ``_count`` of a search by patient, or the
    400 OperationOutcome that says what is wrong."""
    raw = request.GET.get("patient") or request.GET.get("subject") or ""
    reference = raw.removeprefix("Patient/")
    if not reference.isdigit():
        return outcome(400, "invalid", _("patient 参数必须是 Patient/<编号> 或编号。"))
    try:
        return int(reference), _count(request)
    except BadRequest as exc:
        return outcome(400, "invalid", str(exc))


@csrf_exempt
def encounter_search(request: HttpRequest) -> HttpResponse:
    user, error = _guard(request, ENCOUNTER_PARAMS)
    if error:
        return error
    params = patient_search_params(request)
    if isinstance(params, HttpResponse):
        return params
    patient_id, count = params
    patient = Patient.objects.visible_to(user).filter(pk=patient_id).first()
    encounters = Encounter.objects.none()
    if patient is not None:
        encounters = (
            Encounter.objects.visible_to(user).filter(patient=patient).select_related("department", "doctor").order_by("-visit_at", "-pk")
        )
    total = encounters.count()
    entries = [(request.build_absolute_uri(f"/fhir/Encounter/{e.pk}"), resources.encounter_resource(e)) for e in encounters[:count]]
    body = resources.searchset(entries, total, request.build_absolute_uri())
    if patient is not None:
        _audit_reads(request, user, [patient], unmasked=False, resource="Encounter")
    return fhir_response(body)


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    _user, error = _guard(request)
    if error:
        return error
    return outcome(404, "not-supported", _("不支持的 FHIR 资源或操作。"))


@csrf_exempt
def encounter_read(request: HttpRequest, pk: int) -> HttpResponse:
    user, error = _guard(request, {"_format"})
    if error:
        return error
    encounter = (
        Encounter.objects.visible_to(user)
        .filter(pk=pk, patient__in=Patient.objects.visible_to(user))
        .select_related("department", "doctor")
        .first()
    )
    if encounter is None:
        return outcome(404, "not-found", _("Encounter/%(id)s 不存在。") % {"id": pk})
    body = resources.encounter_resource(encounter)
    _audit_reads(request, user, [encounter.patient], unmasked=False, resource="Encounter")
    return fhir_response(body)
