"""The ingest log: browse inbound messages, see why one failed, replay it after a fix.
The raw payload holds patient data and is never shown here; staff see ids, types and errors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from caredesk.core import audit

from . import hl7_ingest
from .models import IngestMessage

VIEW = "intake.view_ingestmessage"


@login_required
@permission_required(VIEW, raise_exception=True)
def message_list(request: HttpRequest) -> HttpResponse:
    rows = IngestMessage.objects.defer("payload").order_by("-id")
    status = request.GET.get("status", "")
    channel = request.GET.get("channel", "")
    if status in IngestMessage.Status.values:
        rows = rows.filter(status=status)
    if channel in IngestMessage.Channel.values:
        rows = rows.filter(channel=channel)
    if request.GET.get("sender"):
        rows = rows.filter(sender__icontains=request.GET["sender"])
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "intake/messages.html", {
        "page": page, "status": status, "channel": channel,
        "statuses": IngestMessage.Status.choices, "channels": IngestMessage.Channel.choices,
    })


@require_POST
@login_required
@permission_required(VIEW, raise_exception=True)
def message_replay(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(IngestMessage, pk=pk, channel=IngestMessage.Channel.HL7)
    with transaction.atomic():
        audit.record(actor=request.user, verb="ingest.replayed", target=row, previous_status=row.status)
    hl7_ingest.apply(row, acting_user=request.user)
    row.refresh_from_db()
    if row.status == IngestMessage.Status.ERROR:
        messages.error(request, _("重新处理仍失败：%(error)s") % {"error": row.error})
    else:
        messages.success(request, _("已重新处理，结果：%(status)s") % {"status": row.get_status_display()})
    return redirect("intake:messages")
