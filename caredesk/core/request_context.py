"""Per-request metadata (request id, client IP) available to audit and logging without passing
the request through every call. Uses a ContextVar so threads and async tasks stay separate."""

from __future__ import annotations

from contextvars import ContextVar

_meta: ContextVar[dict[str, str] | None] = ContextVar("caredesk_request_meta", default=None)


def set_request_meta(**values: str) -> object:
    return _meta.set(values)


def reset_request_meta(token: object) -> None:
    _meta.reset(token)  # type: ignore[arg-type]


def current_request_meta() -> dict[str, str]:
    return _meta.get() or {}
