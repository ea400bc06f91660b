from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import pii, workcalendar
from .actions import remove_calendar_override, set_calendar_override
from .forms import AuditFilterForm, CalendarOverrideForm, RevealForm
from .models import AuditEvent, CalendarOverride
from .scope import get_visible_or_404


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker status for load balancers and monitoring; no login, no patient data."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["broker"] = broker_status()
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", **checks}, status=200 if ok else 503)


def broker_status() -> str:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


@login_required
@permission_required("accounts.view_audit", raise_exception=True)
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.select_related("actor").order_by("-id")
    if form.is_valid():
        data = form.cleaned_data
        if data.get("actor"):
            events = events.filter(actor_label__icontains=data["actor"])
        if data.get("patient"):
            events = events.filter(patient_id=data["patient"])
        if data.get("verb"):
            events = events.filter(verb__startswith=data["verb"])
        tz = timezone.get_current_timezone()
        if data.get("start"):
            events = events.filter(at__gte=datetime.combine(data["start"], time.min, tzinfo=tz))
        if data.get("end"):
            events = events.filter(at__lte=datetime.combine(data["end"], time.max, tzinfo=tz))
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    template = "core/audit_list.html#results" if request.htmx else "core/audit_list.html"  # type: ignore[attr-defined]
    return render(request, template, {"form": form, "page": page, "retention_days": settings.AUDIT_RETENTION_DAYS})


def _revealable(label: str, field: str) -> Any:
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise Http404 from exc
    if field not in getattr(model, "revealable_fields", ()):
        raise Http404
    return model


@login_required
def reveal(request: HttpRequest, label: str, pk: int, field: str) -> HttpResponse:
    """GET: a small form asking why; POST: the clear value, audited. htmx swaps it in place."""
    model = _revealable(label, field)
    manager = model._default_manager
    qs = manager.visible_to(request.user) if hasattr(manager, "visible_to") else manager.all()
    obj = get_visible_or_404(qs, request.user, pk=pk) if hasattr(model, "scope_department_field") else _get(qs, pk)
    form = RevealForm(request.POST or None)
    ctx: dict[str, Any] = {"obj": obj, "label": label, "field": field, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            ctx["value"] = pii.reveal(obj, field, acting_user=request.user, purpose=form.cleaned_data["purpose"])
        except PermissionDenied as exc:
            ctx["denied"] = str(exc)
            return render(request, "core/reveal.html", ctx, status=403)
    return render(request, "core/reveal.html", ctx, status=422 if form.errors else 200)


def _get(qs: Any, pk: int) -> Any:
    try:
        return qs.get(pk=pk)
    except qs.model.DoesNotExist as exc:
        raise Http404 from exc


# --- error pages, each with the request's support id ------------------------------------------


def _error(request: HttpRequest, template: str, status: int) -> HttpResponse:
    if request.path.startswith("/api/"):
        codes = {403: "forbidden", 404: "not_found", 500: "server_error"}
        return JsonResponse(
            {"error": {"code": codes[status], "message": "", "support_id": getattr(request, "request_id", "")}},
            status=status,
        )
    return render(request, template, {"support_id": getattr(request, "request_id", "")}, status=status)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, "403.html", 403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, "404.html", 404)


def error_500(request: HttpRequest) -> HttpResponse:
    return _error(request, "500.html", 500)




# --- working calendar (admin) ---------------------------------------------------------------------


@login_required
@permission_required("core.change_calendaroverride", raise_exception=True)
def calendar(request: HttpRequest) -> HttpResponse:
    """GET: the hospital's overrides and the unknown-year warning; POST: add one, or remove one
    (``remove`` = its id)."""
    form = CalendarOverrideForm(request.POST if request.method == "POST" and "remove" not in request.POST else None)
    if request.method == "POST":
        if "remove" in request.POST:
            raw = request.POST.get("remove", "").strip()
            override = get_object_or_404(CalendarOverride, pk=int(raw) if raw.isdigit() else 0)
            remove_calendar_override(override, acting_user=request.user)
            return redirect("core:calendar")
        if form.is_valid():
            data = form.cleaned_data
            set_calendar_override(day=data["day"], is_working_day=data["is_working_day"],
                                  reason=data["reason"], acting_user=request.user)
            return redirect("core:calendar")
    ctx = {
        "form": form,
        "overrides": CalendarOverride.objects.order_by("-date")[:500],
        "unknown_years": workcalendar.unknown_years(),
    }
    return render(request, "core/calendar.html", ctx, status=422 if form.errors else 200)
