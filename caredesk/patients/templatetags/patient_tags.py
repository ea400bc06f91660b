"""Masking filters: every identity value on a page goes through one of these."""

from __future__ import annotations

from django import template

from caredesk.core import pii

register = template.Library()


@register.filter
def mask_name(value: str | None) -> str:
    return pii.mask_name(value)


@register.filter
def mask_phone(value: str | None) -> str:
    return pii.mask_phone(value)


@register.filter
def mask_id_number(value: str | None) -> str:
    return pii.mask_id_number(value)


@register.filter
def mask_address(value: str | None) -> str:
    return pii.mask_address(value)


@register.filter
def mask_phones(value: str | None) -> str:
    return ", ".join(pii.mask_phone(p) for p in (value or "").split(",") if p.strip())
