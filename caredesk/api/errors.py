"""One JSON error shape for the whole API:

    {"error": {"code": "validation_error", "message": "…", "details": [...], "support_id": "…"}}
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError


def error_body(request: HttpRequest, code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "support_id": getattr(request, "request_id", "")}
    if details is not None:
        body["details"] = details
    return {"error": body}


def install(api: NinjaAPI) -> None:
    @api.exception_handler(ValidationError)
    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", []) if p not in ("body", "query", "path", "payload")),
             "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors
        ]
        return api.create_response(request, error_body(request, "validation_error", "请求数据有误，请检查字段。", details), status=422)

    @api.exception_handler(AuthenticationError)
    def on_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return api.create_response(request, error_body(request, "not_authenticated", "需要登录或有效的接口令牌。"), status=401)

    @api.exception_handler(PermissionDenied)
    def on_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return api.create_response(request, error_body(request, "forbidden", str(exc) or "没有权限。"), status=403)

    @api.exception_handler(Http404)
    def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(request, error_body(request, "not_found", "未找到。"), status=404)

    @api.exception_handler(HttpError)
    def on_http(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return api.create_response(request, error_body(request, f"http_{exc.status_code}", str(exc)), status=exc.status_code)
