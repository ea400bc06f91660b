"""Pages patients use, without login: the answering page behind an SMS link (/surveys/a/<token>/),
the opt-out page (/surveys/o/<token>/) and anonymous answers from a QR poster (/surveys/q/<token>/).

The questionnaire is shown one section per page. Every "下一页" is a plain form post that saves
the answers so far (the engine's partial save) — no JavaScript needed; with JavaScript, changed
answers are also saved in the background (static/js/surveys-answer.js posts the same form with
``autosave=1``). A used, expired or withdrawn link gets a kind 410 page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from caredesk.core.middleware import client_ip
from caredesk.core.models import AuditEvent
from caredesk.questionnaires import engine
from caredesk.questionnaires.actions import ResponseInvalid
from caredesk.questionnaires.forms import fields_for
from caredesk.questionnaires.models import Response

from . import actions, conf, distribution
from .models import DepartmentQR, Invitation

QR_SESSION_KEY = "surveys_qr_responses"


def _pages(spec: engine.VersionSpec) -> list[list[str]]:
    """link_ids per page: one page per section, in order."""
    pages: list[list[str]] = []
    last: Any = object()
    for item in spec.items:
        if item.section_id != last or not pages:
            pages.append([])
            last = item.section_id
        pages[-1].append(item.link_id)
    return pages


def _page_number(request: HttpRequest, count: int) -> int:
    try:
        n = int(request.POST.get("page") or request.GET.get("page") or 1)
    except ValueError:
        n = 1
    return min(max(n, 1), max(count, 1))


def _render_page(request: HttpRequest, *, spec: engine.VersionSpec, values: dict[str, Any], errors: dict[str, str],
                 page: int, action: str, title: str, status: int = 200, extra: dict[str, Any] | None = None) -> HttpResponse:
    pages = _pages(spec)
    on_page = set(pages[page - 1]) if pages else set()
    fields = [f for f in fields_for(spec, values, errors) if f.item.link_id in on_page]
    context = {
        "spec": spec, "version": spec.version, "fields": fields, "page": page, "pages": len(pages),
        "is_last": page >= len(pages), "action": action, "title": title, "errors": errors,
        "progress": int(100 * (page - 1) / max(len(pages), 1)),
        **(extra or {}),
    }
    return render(request, "surveys/h5_answer.html", context, status=status)


def _page_raw(spec: engine.VersionSpec, request: HttpRequest, page: int) -> dict[str, Any]:
    pages = _pages(spec)
    on_page = set(pages[page - 1]) if pages else set()
    raw = engine.raw_from_post(spec, request.POST)
    return {k: v for k, v in raw.items() if k in on_page}


def _first_error_page(spec: engine.VersionSpec, errors: dict[str, str]) -> int:
    for n, ids in enumerate(_pages(spec), start=1):
        if any(i in errors for i in ids):
            return n
    return 1


def _gone(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "surveys/h5_gone.html", {"reason": reason}, status=410 if reason != "unknown" else 404)


def _flow(request: HttpRequest, *, spec: engine.VersionSpec, stored: Response | None, page: int, action: str,
          title: str, save: Any, thanks_url: str, extra: dict[str, Any] | None = None) -> HttpResponse:
    """The shared GET/POST handling of a paged answering form. ``save(page_raw, submit)`` stores."""
    values = actions.stored_values(stored)
    if request.method != "POST":
        return _render_page(request, spec=spec, values=values, errors={}, page=page, action=action, title=title, extra=extra)
    page_raw = _page_raw(spec, request, page)
    move = request.POST.get("move", "next")
    submit = move == "submit"
    autosave = request.POST.get("autosave") == "1"
    try:
        save(page_raw, submit and not autosave)
    except ResponseInvalid as exc:
        if autosave:
            return JsonResponse({"saved": False, "errors": exc.errors}, status=422)
        # the page's own input is shown back; on submit, the first page with a problem is shown
        shown = {**values, **page_raw}
        target = _first_error_page(spec, exc.errors) if submit else page
        return _render_page(request, spec=spec, values=shown, errors=exc.errors, page=target, action=action,
                            title=title, status=422, extra=extra)
    if autosave:
        return JsonResponse({"saved": True})
    if submit:
        return redirect(thanks_url)
    target = page - 1 if move == "back" else page + 1
    return redirect(f"{action}?page={min(max(target, 1), len(_pages(spec)))}")


# --- SMS link ---------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    invitation = distribution.find_invitation(token)
    refusal = actions.invitation_refusal(invitation)
    if refusal or invitation is None or invitation.version is None:
        return _gone(request, refusal or "expired")
    actions.mark_opened(invitation)
    spec = engine.VersionSpec.load(invitation.version)
    pages = _pages(spec)
    page = _page_number(request, len(pages))

    def save(page_raw: dict[str, Any], submit: bool) -> None:
        try:
            actions.answer_invitation(invitation, page_raw, submit=submit)
        except ValidationError as exc:  # answered or expired meanwhile (another tab, a double tap)
            raise _Gone from exc

    inv_stored = Response.objects.filter(pk=invitation.response_id).first() if invitation.response_id else None
    try:
        return _flow(
            request, spec=spec, stored=inv_stored, page=page, action=reverse("surveys:answer", args=[token]),
            title=invitation.version.title, save=save, thanks_url=reverse("surveys:thanks", args=[token]),
            extra={"department": invitation.department, "optout_url": reverse("surveys:optout", args=[token])},
        )
    except _Gone:
        return _gone(request, actions.invitation_refusal(Invitation.objects.get(pk=invitation.pk)) or "answered")


class _Gone(Exception):
    pass


@never_cache
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    invitation = distribution.find_invitation(token)
    if invitation is None or invitation.status != Invitation.Status.ANSWERED:
        return _gone(request, actions.invitation_refusal(invitation) or "expired")
    return render(request, "surveys/h5_thanks.html", {"version": invitation.version})


@never_cache
@require_http_methods(["GET", "POST"])
def optout(request: HttpRequest, token: str) -> HttpResponse:
    invitation = distribution.find_invitation(token)
    if invitation is None:
        return _gone(request, "unknown")
    done = invitation.status == Invitation.Status.OPTED_OUT
    if request.method == "POST" and not done:
        distribution.opt_out(invitation)
        done = True
    return render(request, "surveys/h5_optout.html", {"done": done, "token": token})


# --- QR poster: anonymous answers -------------------------------------------------------------------


def _qr_rate_limited(request: HttpRequest) -> bool:
    limit = int(conf.get("SURVEY_QR_RATE_PER_HOUR"))
    since = timezone.now() - timedelta(hours=1)
    started = AuditEvent.objects.filter(verb="survey.qr_started", ip=client_ip(request), at__gte=since).count()
    return started >= limit


@never_cache
@require_http_methods(["GET", "POST"])
def qr_answer(request: HttpRequest, token: str) -> HttpResponse:
    qr = get_object_or_404(DepartmentQR.objects.select_related("department", "questionnaire"), token=token)
    if not qr.is_active:
        return _gone(request, "qr_closed")
    mine: dict[str, int] = request.session.get(QR_SESSION_KEY, {})
    stored_pk = mine.get(token)
    stored = (
        Response.objects.filter(pk=stored_pk, status=Response.Status.IN_PROGRESS, source_id=str(qr.pk))
        .select_related("version").first() if stored_pk else None
    )
    version = stored.version if stored else qr.questionnaire.published_version()
    if version is None:
        return _gone(request, "qr_closed")
    spec = engine.VersionSpec.load(version)
    page = _page_number(request, len(_pages(spec)))
    if request.method == "POST" and stored is None and _qr_rate_limited(request):
        return render(request, "surveys/h5_gone.html", {"reason": "rate_limited"}, status=429)

    def save(page_raw: dict[str, Any], submit: bool) -> None:
        response = actions.answer_qr(qr, page_raw, submit=submit, response=stored, ip=client_ip(request))
        current = dict(request.session.get(QR_SESSION_KEY, {}))
        if submit:
            current.pop(token, None)
        else:
            current[token] = response.pk
        request.session[QR_SESSION_KEY] = current

    return _flow(
        request, spec=spec, stored=stored, page=page, action=reverse("surveys:qr_answer", args=[token]),
        title=version.title, save=save, thanks_url=reverse("surveys:qr_thanks", args=[token]),
        extra={"department": qr.department, "anonymous": True},
    )


def qr_thanks(request: HttpRequest, token: str) -> HttpResponse:
    qr = get_object_or_404(DepartmentQR, token=token)
    return render(request, "surveys/h5_thanks.html", {"version": qr.questionnaire.published_version(), "qr": qr})

