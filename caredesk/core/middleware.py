from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .request_context import reset_request_meta, set_request_meta


def client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is trusted at the proxy (nginx sets REMOTE_ADDR via
    # its real-ip module), never from the client.
    return request.META.get("REMOTE_ADDR", "") or ""


class RequestIdMiddleware:
    """Gives every request a short id, used in logs, audit rows and on error pages (support id)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex[:12]
        request.request_id = request_id  # type: ignore[attr-defined]
        token = set_request_meta(request_id=request_id, ip=client_ip(request))
        try:
            response = self.get_response(request)
        finally:
            reset_request_meta(token)
        response["X-Request-ID"] = request_id
        return response
