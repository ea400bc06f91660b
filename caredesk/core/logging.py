"""Logging filters. Code logs ids, never patient data; RedactPIIFilter is a safety net that masks
anything shaped like a mainland ID-card number or mobile number before a handler writes it."""

from __future__ import annotations

import logging
import re

from .request_context import current_request_meta

ID_NUMBER_RE = re.compile(r"(?<!\d)\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)")
MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def contains_pii(text: str) -> bool:
    return bool(ID_NUMBER_RE.search(text) or MOBILE_RE.search(text))


def redact(text: str) -> str:
    text = ID_NUMBER_RE.sub("[ID-REDACTED]", text)
    return MOBILE_RE.sub("[PHONE-REDACTED]", text)


class RedactPIIFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if contains_pii(message):
            record.msg = redact(message)
            record.args = None
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_meta().get("request_id", "-")
        return True
