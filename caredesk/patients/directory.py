"""Departments and doctors resolved from the text an integration sends (code or name, staff no or
name), with the rules of ``actions._resolve_department`` / ``actions._resolve_doctor``, but from an
in-memory snapshot of both tables instead of three or four queries per encounter.

Used by long-running intake paths (the HL7 listener). The snapshot is reloaded after ``ttl``
seconds, and on a miss when it is older than ``miss_reload`` seconds, so a department or doctor
added while a listener runs is picked up within a second or so. The tables are small (hundreds of
rows); a snapshot is an immutable tuple swapped in one assignment, so threads can share it."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from caredesk.accounts.models import Department, Doctor


class _Snapshot:
    def __init__(self) -> None:
        from caredesk.accounts.models import Department, Doctor

        depts = sorted(Department.objects.all(), key=lambda d: (d.sort_order, d.code, d.pk))
        self.by_code: dict[str, Department] = {}
        self.by_name: dict[str, Department] = {}
        for d in depts:
            self.by_code.setdefault(d.code.upper(), d)
        for d in sorted(depts, key=lambda d: d.pk):
            self.by_name.setdefault(d.name, d)
        rank = {d.pk: i for i, d in enumerate(depts)}
        doctors = sorted(Doctor.objects.select_related("department"),
                         key=lambda doc: (rank.get(doc.department_id, -1), doc.name, doc.pk))
        self.by_staff_no: dict[str, Doctor] = {}
        self.by_doctor_name: dict[str, list[Doctor]] = {}
        for doc in doctors:
            if doc.staff_no:
                self.by_staff_no.setdefault(doc.staff_no, doc)
            self.by_doctor_name.setdefault(doc.name, []).append(doc)
        self.loaded_at = time.monotonic()


class Directory:
    def __init__(self, ttl: float = 60.0, miss_reload: float = 1.0) -> None:
        self.ttl, self.miss_reload = ttl, miss_reload
        self._snap: _Snapshot | None = None
        self._lock = threading.Lock()

    def _current(self, *, missed: bool = False) -> _Snapshot:
        snap = self._snap
        if snap is not None:
            age = time.monotonic() - snap.loaded_at
            if age <= self.ttl and not (missed and age > self.miss_reload):
                return snap
        with self._lock:
            current = self._snap
            if current is snap or current is None:
                current = self._snap = _Snapshot()
            return current

    def department(self, text: str) -> Department | None:
        text = (text or "").strip()
        if not text:
            return None
        for missed in (False, True):
            snap = self._current(missed=missed)
            found = snap.by_code.get(text.upper()) or snap.by_name.get(text)
            if found is not None:
                return found
        return None

    def doctor(self, text: str, department: Department | None) -> Doctor | None:
        text = (text or "").strip()
        if not text:
            return None
        for missed in (False, True):
            snap = self._current(missed=missed)
            if text in snap.by_staff_no:
                return snap.by_staff_no[text]
            named = snap.by_doctor_name.get(text, [])
            if department is not None:
                same = [d for d in named if d.department_id == department.pk]
                if same:
                    return same[0]
            if len(named) == 1:
                return named[0]
            if named:
                return None  # several doctors of that name and none in the department: ambiguous
        return None
