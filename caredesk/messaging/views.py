"""The SMS gateway's delivery-status callback. No login: the gateway signs each request with the
shared secret (the same HMAC scheme as our requests to it)."""

from __future__ import annotations

import hmac
import json
import logging
import time

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .actions import record_delivery
from .transports.sms_http import sign

log = logging.getLogger("caredesk.messaging")

MAX_CLOCK_SKEW_SECONDS = 300
DELIVERED = {"delivered", "DELIVRD", "success", "0"}


def _signed(request: HttpRequest) -> bool:
    secret = settings.SMS_GATEWAY_SECRET
    timestamp = request.headers.get("X-Timestamp", "")
    nonce = request.headers.get("X-Nonce", "")
    signature = request.headers.get("X-Signature", "")
    if not (secret and timestamp.isdigit() and nonce and signature):
        return False
    if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, timestamp, nonce, request.body), signature)


@csrf_exempt  # a server-to-server call authenticated by its HMAC signature, not a browser form
@require_POST
def sms_delivery_callback(request: HttpRequest) -> JsonResponse:
    """Body: one report ``{"client_ref", "message_id", "status", "delivered_at", "error_code"}`` or
    ``{"reports": [ … ]}``. Answers ``{"code": "0", "updated": n}``."""
    if not _signed(request):
        return JsonResponse({"code": "FORBIDDEN", "message": "bad or missing signature"}, status=403)
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return JsonResponse({"code": "BAD_REQUEST", "message": "body is not JSON"}, status=400)
    reports = data.get("reports", [data]) if isinstance(data, dict) else data
    if not isinstance(reports, list):
        return JsonResponse({"code": "BAD_REQUEST", "message": "reports must be a list"}, status=400)
    updated = 0
    for report in reports:
        if not isinstance(report, dict):
            continue
        at = parse_datetime(str(report.get("delivered_at") or "")) if report.get("delivered_at") else None
        message = record_delivery(
            client_ref=str(report.get("client_ref") or ""),
            provider_message_id=str(report.get("message_id") or ""),
            delivered=str(report.get("status", "")) in DELIVERED,
            at=at if at and at.tzinfo else None,
            error_code=str(report.get("error_code") or report.get("status") or ""),
        )
        updated += message is not None
    log.info("sms delivery callback: %s report(s), %s updated", len(reports), updated)
    return JsonResponse({"code": "0", "updated": updated})
