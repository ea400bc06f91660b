"""Patient-data protection: field encryption (AES-256-GCM), keyed blind indexes for exact lookup,
and masking for display.

Identity-card numbers, phone numbers and addresses are stored only encrypted. Exact search uses a
separate blind-index column holding HMAC-SHA256(normalised value) under a key derived from
FIELD_ENCRYPTION_KEY, so the database never sees the clear value. Showing a clear value to a person
is an explicit, audited action (``reveal``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import unicodedata
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

_PREFIX = "v1:"
_NONCE_BYTES = 12
_NON_DIGIT = re.compile(r"\D", re.ASCII)


@lru_cache(maxsize=4)
def _keys(master_b64: str) -> tuple[bytes, bytes]:
    try:
        master = base64.b64decode(master_b64, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be base64 (32 bytes).") from exc
    if len(master) != 32:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must decode to exactly 32 bytes.")

    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)

    return derive(b"caredesk field encryption"), derive(b"caredesk blind index")


@lru_cache(maxsize=4)
def _cipher(master_b64: str) -> AESGCM:
    """The AES-GCM object for the field key (building it costs about as much as sealing a value)."""
    return AESGCM(_keys(master_b64)[0])


# the AES-GCM object of the key setting for the field functions: read once, not per value (a bulk
# import seals and opens about two million values a million rows; the settings look-up and the
# cache call were a third of each); forgotten when a test overrides the setting
_field: AESGCM | None = None


def _field_cipher() -> AESGCM:
    global _field
    if _field is None:
        _field = _cipher(settings.FIELD_ENCRYPTION_KEY)
    return _field


@receiver(setting_changed)
def _forget_field_cipher(*, setting: str, **_kwargs: Any) -> None:
    global _field
    if setting == "FIELD_ENCRYPTION_KEY":
        _field = None


def _index_key() -> bytes:
    return _keys(settings.FIELD_ENCRYPTION_KEY)[1]


_SHA256_BLOCK = 64


@lru_cache(maxsize=4)
def _index_states(master_b64: str) -> tuple[Any, Any]:
    """HMAC-SHA256 keyed for blind indexes, as its two SHA-256 states after the padded key (RFC 2104:
    ``H((K ^ opad) || H((K ^ ipad) || m))``): each index copies them, so the key schedule is done
    once. ``hmac.HMAC.copy()`` gives the same digests at twice the cost (0.8 against 1.6 µs a value:
    it copies OpenSSL's HMAC context); a test compares both on many keys and values."""
    key = _keys(master_b64)[1]
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key)))


def _index_digest(master_b64: str, message: bytes) -> str:
    inner0, outer0 = _index_states(master_b64)
    inner = inner0.copy()
    inner.update(message)
    outer = outer0.copy()
    outer.update(inner.digest())
    return outer.hexdigest()


def encrypt(value: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _field_cipher().encrypt(nonce, value.encode(), None)
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    if not token.startswith(_PREFIX):
        raise ValueError("not an encrypted CareDesk value")
    raw = base64.urlsafe_b64decode(token[len(_PREFIX):])
    return _field_cipher().decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode()


def fold_width(value: str) -> str:
    """Full-width digits and letters (an input method in full-width mode: １３８…, …Ｘ) as ASCII (NFKC)."""
    return value if value.isascii() else unicodedata.normalize("NFKC", value)


def normalise(kind: str, value: str) -> str:
    value = fold_width(value.strip())
    if kind == "id_number":
        return value.upper().replace(" ", "")
    if kind == "phone":
        # plain ASCII digits, the usual case, have nothing to remove (the expression cost 0.4 µs)
        digits = value if value.isdigit() and value.isascii() else _NON_DIGIT.sub("", value)
        return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
    return value


def blind_index(kind: str, value: str) -> str:
    """Deterministic keyed hash for exact lookup; empty for an empty value."""
    return blind_index_of_normalised(kind, normalise(kind, value))


# Hex digits kept of a blind index: 128 of HMAC-SHA256's 256 bits. A collision among even 10^9 values
# is about 10^-21 likely, and the columns and their indexes are half as wide as with all 64 digits
# (the look-ups of a bulk import read them for every row; docs/decisions.md, session 22).
BLIND_INDEX_LENGTH = 32


def blind_index_of_normalised(kind: str, value: str, master_b64: str | None = None) -> str:
    """``blind_index`` of a value that is already ``normalise(kind, …)``'s result (bulk paths normalise
    each value once); ``master_b64``: the key setting when the caller has read it already."""
    if not value:
        return ""
    return _index_digest(master_b64 or settings.FIELD_ENCRYPTION_KEY, f"{kind}:{value}".encode())[:BLIND_INDEX_LENGTH]


def shorten_blind_indexes(model: Any, fields: tuple[str, ...], length: int) -> None:
    """For data migrations: the stored blind indexes of ``model`` cut to their first ``length`` digits
    (an HMAC's leading digits: the value ``blind_index`` gives with that length, no key needed)."""
    from django.db.models import Q
    from django.db.models.functions import Substr

    longer = Q()
    for name in fields:
        longer |= Q(**{f"{name}__regex": rf"^.{{{length + 1},}}$"})
    # one UPDATE: each row is rewritten once, whatever number of its columns change
    model.objects.filter(longer).update(**{name: Substr(name, 1, length) for name in fields})


class EncryptedTextField(models.TextField):
    """A text field stored as AES-GCM ciphertext. Reads give the clear value to code; templates
    must show it through the masking helpers, and people see it only through ``reveal``."""

    description = "Encrypted text"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(_PREFIX):
            return decrypt(value)
        return value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def bulk_prep(self) -> Any:
        """``get_prep_value`` for the bulk insert paths: a clear text is sealed at once (the generic
        chain through ``Field``, ``TextField`` and ``to_python`` cost half as much again as sealing it:
        0.9 µs a value, a million of them in a big first import); anything else goes that way."""
        prep = self.get_prep_value

        def bulk(value: Any) -> Any:
            if value.__class__ is str and value and not value.startswith(_PREFIX):
                return encrypt(value)
            return prep(value)

        return bulk


# --- masking ---------------------------------------------------------------------------------------


def mask_phone(value: str | None) -> str:
    """138****5678; short or odd numbers keep only their last two digits."""
    if not value:
        return ""
    digits = normalise("phone", value)
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) <= 2:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_id_number(value: str | None) -> str:
    """1101**********1234 (18 characters: first four and last four shown)."""
    if not value:
        return ""
    value = normalise("id_number", value)
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(value: str | None) -> str:
    """张* for two characters, 欧阳** or 张*丰 style for longer names (first character kept)."""
    if not value:
        return ""
    value = value.strip()
    if len(value) == 1:
        return value
    if len(value) == 2:
        return value[0] + "*"
    if len(value) == 3:
        return value[0] + "*" + value[-1]
    return value[0] + "*" * (len(value) - 1)


def mask_address(value: str | None) -> str:
    """Keep the first six characters (province/city level), hide the rest."""
    if not value:
        return ""
    return value[:6] + "****" if len(value) > 6 else value[:2] + "****"


MASKERS = {"phone": mask_phone, "id_number": mask_id_number, "name": mask_name, "address": mask_address}


REVEAL_PERMISSION = "accounts.reveal_pii"


def reveal(obj: models.Model, field: str, *, acting_user: Any, purpose: str) -> str:
    """Return the clear value of ``obj.field`` for a person to see, after checking the permission
    and recording who saw what and why. Raises PermissionDenied without the permission or purpose."""
    from . import audit

    purpose = (purpose or "").strip()
    if not acting_user.has_perm(REVEAL_PERMISSION):
        audit.record(actor=acting_user, verb="pii.reveal", target=obj, result="denied", field=field)
        raise PermissionDenied("没有查看完整信息的权限。")
    if len(purpose) < 2:
        raise PermissionDenied("查看完整信息必须填写用途。")
    value = getattr(obj, field)
    audit.record(actor=acting_user, verb="pii.reveal", target=obj, purpose=purpose, field=field)
    return value or ""
