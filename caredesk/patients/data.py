"""Plain data carried from the integrations (file import, HL7, FHIR) into the patient actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class PatientData:
    name: str
    sex: str = ""  # "M"/"F"/"U" or ""
    birth_date: date | None = None
    id_number: str = ""
    mobile: str = ""
    other_phones: list[str] = field(default_factory=list)
    address: str = ""
    outpatient_no: str = ""
    inpatient_no: str = ""
    insurance_no: str = ""
    source_channel: str = ""
    customer_type: str = ""
    identifiers: dict[str, str] = field(default_factory=dict)  # system -> value
    deceased_at: datetime | None = None


@dataclass
class EncounterData:
    kind: str  # "outpatient" | "inpatient"
    source_system: str
    source_id: str
    department: str = ""  # code or name; resolved to Department when it matches
    doctor: str = ""  # name or staff no
    diagnosis_text: str = ""
    diagnosis_code: str = ""
    visit_at: datetime | None = None
    admitted_at: datetime | None = None
    discharged_at: datetime | None = None
    visit_type: str = ""  # "first" | "return" | ""
    outcome: str = ""  # Encounter.Outcome value or ""
    status: str = ""  # "" = derive (discharged when discharged_at is set)
