"""Read FHIR R4 resources from files: Bundles (collection, transaction, batch, searchset) and NDJSON,
from one file or a directory. Each resource is validated with ``fhir.resources.R4B``; a resource
that fails is reported with its file, line (NDJSON) and a reason that names fields, never values
(a value may be a name or a phone number)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

# Synthea / bulk-data export writes its run log next to the resources; it is not FHIR.
SKIPPED_FILES = {"log.ndjson"}
SUPPORTED_TYPES = ("Patient", "Encounter")
BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset", "transaction-response", "batch-response")


@dataclass
class Item:
    """One resource read from a file: ``resource`` is the JSON object when it parsed and validated,
    ``error`` the reason when it did not. ``full_url`` is the Bundle entry's fullUrl (urn:uuid:...)."""

    file: str
    line: int | None
    resource_type: str
    resource_id: str
    resource: dict[str, Any] | None
    raw: str
    error: str = ""
    full_url: str = ""

    @property
    def control_id(self) -> str:
        if self.resource_type and self.resource_id:
            return f"{self.resource_type}/{self.resource_id}"
        return f"{self.resource_type or 'unreadable'}@{self.where}"[-120:]

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.raw.encode()).hexdigest()

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def validation_reason(exc: ValidationError) -> str:
    """Field paths and messages of a pydantic error, without the offending input values."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(resource)"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def validate(resource: dict[str, Any]) -> str:
    """Empty string when the resource is valid R4B, else the reason."""
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return "resourceType missing"
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError):
        return f"unknown resourceType {rtype}"
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return validation_reason(exc)
    except (ValueError, TypeError) as exc:  # fhir.resources raises plain errors for some checks
        return type(exc).__name__
    return ""


def _canonical(resource: dict[str, Any]) -> str:
    return json.dumps(resource, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _item(file: str, line: int | None, resource: Any, full_url: str = "") -> Item:
    if not isinstance(resource, dict):
        return Item(file, line, "", "", None, json.dumps(resource, default=str), "not a JSON object")
    raw = _canonical(resource)
    rtype = str(resource.get("resourceType") or "")
    rid = str(resource.get("id") or "")
    if not rid and full_url:
        rid = full_url.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    error = validate(resource)
    if not error and not rid:
        error = "id missing"
    return Item(file, line, rtype, rid, None if error else resource, raw, error, full_url)


def read_ndjson(path: Path) -> Iterator[Item]:
    name = str(path)
    with path.open(encoding="utf-8-sig") as fh:
        for number, text in enumerate(fh, start=1):
            text = text.strip()
            if not text:
                continue
            try:
                resource = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Item(name, number, "", "", None, text, f"invalid JSON at column {exc.colno}")
                continue
            yield _item(name, number, resource)


def read_json(path: Path) -> Iterator[Item]:
    """A Bundle (its entries) or a single resource."""
    name = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        yield Item(name, None, "", "", None, "", f"invalid JSON: {type(exc).__name__}")
        return
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        if data.get("type") not in BUNDLE_TYPES:
            yield Item(name, None, "Bundle", str(data.get("id") or ""), None, "", f"unsupported Bundle type {data.get('type')}")
            return
        for index, entry in enumerate(data.get("entry") or [], start=1):
            if not isinstance(entry, dict) or "resource" not in entry:
                yield Item(f"{name}#entry{index}", None, "", "", None, "", "entry without resource")
                continue
            yield _item(f"{name}#entry{index}", None, entry["resource"], str(entry.get("fullUrl") or ""))
        return
    yield _item(name, None, data)


def iter_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".ndjson", ".json"))
    return [path]


def read_path(path: Path, types: tuple[str, ...] = SUPPORTED_TYPES) -> Iterator[Item]:
    """Every resource of the given types (and every unreadable one) under ``path``. Files whose
    name says another resource type (Synthea's ``Condition.000.ndjson``) are skipped unread."""
    for file in iter_files(path):
        head = file.name.split(".", 1)[0].split("-", 1)[0]
        if head and head[0].isupper() and head not in types and head != "Bundle":
            continue
        if file.name in SKIPPED_FILES:
            continue
        if file.suffix == ".ndjson":
            items: Iterator[Item] = read_ndjson(file)
        else:
            items = read_json(file)
        for item in items:
            if (item.error and not item.resource_type) or item.resource_type in types:
                yield item
