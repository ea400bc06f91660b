"""Invitation link tokens. The raw token is derived from a random per-invitation salt and the
server secret (so a reminder can carry the same link) and only its SHA-256 is stored."""

from __future__ import annotations

import base64
import hashlib
import secrets

from django.utils.crypto import salted_hmac

KEY_SALT = "caredesk.surveys.invitation-link"


def new_salt() -> str:
    return secrets.token_hex(12)


def raw_token(salt: str) -> str:
    digest = salted_hmac(KEY_SALT, salt, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token_pair() -> tuple[str, str]:
    """(salt, sha256 of the derived raw token) for a new invitation."""
    salt = new_salt()
    return salt, hash_token(raw_token(salt))


def new_qr_token() -> str:
    return secrets.token_urlsafe(12)
