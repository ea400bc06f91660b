"""HL7 v2 ADT messages: normalising, field access, mapping to the patient archive, and ACKs.

Pure functions only (no database): the ingest module stores and applies, the listener frames.
Real senders end segments with CR, LF or CRLF and sometimes start with a UTF-8 byte-order mark;
all of them are accepted and turned into CR-separated text before anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError

from caredesk.core import pii
from caredesk.patients.data import EncounterData, PatientData
from caredesk.patients.validators import validate_id_number

SUPPORTED_TRIGGERS = {"A01", "A02", "A03", "A04", "A05", "A08", "A11", "A13", "A40"}
CJK = re.compile(r"[\u4e00-\u9fff]")
# PV1-36 discharge disposition (HL7 table 0112, common codes) → Encounter.Outcome
DISPOSITION = {"01": "cured", "1": "cured", "02": "transferred", "2": "transferred", "03": "transferred",
               "20": "died", "40": "died", "41": "died", "42": "died", "07": "other"}


class HL7Error(ValueError):
    """A message we cannot accept; ``code`` is the ACK code to answer with (AR or AE)."""

    def __init__(self, message: str, code: str = "AR") -> None:
        super().__init__(message)
        self.code = code


def normalise(raw: bytes | str) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = text.lstrip("\ufeff").strip("\x0b\x1c\r\n ")
    return "\r".join(line for line in re.split(r"\r\n|\r|\n", text) if line.strip())


@dataclass
class Message:
    segments: list[list[str]]
    component_sep: str = "^"
    repetition_sep: str = "~"

    @classmethod
    def parse(cls, text: str) -> Message:
        if not text.startswith("MSH") or len(text) < 8:
            raise HL7Error("消息不是以 MSH 段开头（Message does not start with MSH）")
        field_sep = text[3]
        encoding = text[4:8]
        segments = [line.split(field_sep) for line in text.split("\r")]
        # MSH-1 is the separator itself: insert it so that MSH fields keep their standard numbers.
        segments[0].insert(1, field_sep)
        return cls(segments, component_sep=encoding[0], repetition_sep=encoding[1] if len(encoding) > 1 else "~")

    def segment(self, name: str) -> list[str] | None:
        return next((s for s in self.segments if s[0] == name), None)

    def get(self, seg: str, number: int, component: int = 1, repetition: int = 0) -> str:
        s = self.segment(seg)
        if s is None or number >= len(s):
            return ""
        reps = s[number].split(self.repetition_sep)
        if repetition >= len(reps):
            return ""
        comps = reps[repetition].split(self.component_sep)
        return comps[component - 1].strip() if component <= len(comps) else ""

    def repetitions(self, seg: str, number: int) -> list[list[str]]:
        s = self.segment(seg)
        if s is None or number >= len(s) or not s[number]:
            return []
        return [rep.split(self.component_sep) for rep in s[number].split(self.repetition_sep)]

    @property
    def sender(self) -> str:
        return f"{self.get('MSH', 3)}^{self.get('MSH', 4)}"

    @property
    def control_id(self) -> str:
        return self.get("MSH", 10)

    @property
    def message_type(self) -> str:
        return "^".join(p for p in (self.get("MSH", 9, 1), self.get("MSH", 9, 2)) if p)

    @property
    def trigger(self) -> str:
        return self.get("MSH", 9, 2) or self.get("EVN", 1)


def parse_ts(value: str) -> datetime | None:
    """HL7 TS: YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]; no zone means the hospital's time zone."""
    match = re.fullmatch(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?", value.strip())
    if not match:
        return None
    y, mo, d, h, mi, s, zone = match.groups()
    try:
        naive = datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0))  # noqa: DTZ001
    except ValueError:
        return None
    if zone:
        sign = 1 if zone[0] == "+" else -1
        return naive.replace(tzinfo=timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))))
    return naive.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))


def parse_date(value: str) -> date | None:
    ts = parse_ts(value[:8]) if value else None
    return ts.date() if ts else None


@dataclass
class ADTEvent:
    trigger: str
    patient: PatientData
    encounter: EncounterData | None
    prior_identifiers: dict[str, str] = field(default_factory=dict)  # A40 MRG-1


def _name(msg: Message) -> str:
    family, given = msg.get("PID", 5, 1), msg.get("PID", 5, 2)
    if CJK.search(family + given):
        return (family + given).strip()
    return " ".join(p for p in (given, family) if p).strip()


# 15 or 18 characters as a resident identity number has them (a check of its digits follows)
_LOOKS_LIKE_ID_NUMBER = re.compile(r"\d{15}|\d{17}[\dX]", re.ASCII)  # on the value as normalised


def _identifiers(msg: Message, seg: str, number: int, default_system: str) -> tuple[dict[str, str], str]:
    """PID-3 / MRG-1 → ({system: value}, resident ID number if one validates). An identity-card
    entry (type NNCHN/RRI) that fails the check but has an identity number's shape is dropped:
    identifiers are stored in clear and identity numbers only encrypted. Any other value of those
    types (a sender's local number mislabelled) is kept as an identifier."""
    found: dict[str, str] = {}
    id_number = ""
    for comps in msg.repetitions(seg, number):
        value = comps[0].strip()
        if not value:
            continue
        authority = comps[3].split("&")[0].strip() if len(comps) > 3 else ""
        type_code = comps[4].strip().upper() if len(comps) > 4 else ""
        if type_code in {"NNCHN", "RRI"}:
            try:
                id_number = validate_id_number(value)
                continue
            except ValidationError:
                if _LOOKS_LIKE_ID_NUMBER.fullmatch(pii.normalise("id_number", value)):
                    continue  # a mistyped identity number: not kept, and never in clear as an identifier
        found[f"HL7:{authority or default_system}"] = value
    return found, id_number


def to_event(msg: Message) -> ADTEvent:
    trigger = msg.trigger
    if msg.segment("PID") is None:
        raise HL7Error("缺少 PID 段（PID segment missing）")
    facility = msg.get("MSH", 4) or msg.get("MSH", 3) or "HIS"
    identifiers, id_number = _identifiers(msg, "PID", 3, facility)
    name = _name(msg)
    if not name:
        raise HL7Error("PID-5 患者姓名为空（patient name missing）")
    if not identifiers and not id_number:
        raise HL7Error("PID-3 没有可用的患者标识：无病历号，身份证号缺失或校验不通过（no usable patient identifier）")
    sex = {"M": "M", "F": "F"}.get(msg.get("PID", 8).upper(), "U")
    deceased = parse_ts(msg.get("PID", 29)) if msg.get("PID", 30).upper() == "Y" else None
    if msg.get("PID", 30).upper() == "Y" and deceased is None:
        deceased = parse_ts(msg.get("EVN", 2)) or parse_ts(msg.get("MSH", 7))
    address = "".join(p for p in (msg.get("PID", 11, 4), msg.get("PID", 11, 3), msg.get("PID", 11, 1)) if p)
    patient = PatientData(
        name=name[:50], sex=sex, birth_date=parse_date(msg.get("PID", 7)), id_number=id_number,
        mobile=msg.get("PID", 13) if re.fullmatch(r"1[3-9]\d{9}", msg.get("PID", 13)) else "",
        address=address[:200], identifiers=identifiers, deceased_at=deceased,
    )
    encounter = None
    visit_no = msg.get("PV1", 19)
    if msg.segment("PV1") is not None and visit_no:
        klass = msg.get("PV1", 2).upper()
        discharged = parse_ts(msg.get("PV1", 45))
        if trigger == "A03" and discharged is None:
            discharged = parse_ts(msg.get("EVN", 2)) or parse_ts(msg.get("MSH", 7))
        admitted = parse_ts(msg.get("PV1", 44))
        encounter = EncounterData(
            kind="inpatient" if klass == "I" else "outpatient",
            source_system=f"HL7:{facility}", source_id=visit_no,
            department=msg.get("PV1", 3, 1) or msg.get("PV1", 10),
            doctor=" ".join(p for p in (msg.get("PV1", 7, 3), msg.get("PV1", 7, 2)) if p) or msg.get("PV1", 7, 1),
            diagnosis_text=msg.get("DG1", 3, 2) or msg.get("DG1", 4), diagnosis_code=msg.get("DG1", 3, 1),
            visit_at=admitted or parse_ts(msg.get("EVN", 2)), admitted_at=admitted if klass == "I" else None,
            discharged_at=discharged if trigger == "A03" or msg.get("PV1", 45) else None,
            outcome=DISPOSITION.get(msg.get("PV1", 36), "") if discharged else "",
            status="planned" if trigger == "A05" else "",
        )
    prior: dict[str, str] = {}
    if trigger == "A40":
        prior, prior_id = _identifiers(msg, "MRG", 1, facility)
        if not prior and not prior_id:
            raise HL7Error("A40 缺少 MRG-1 原患者标识（MRG-1 missing）")
        if prior_id:
            prior["__id_number__"] = prior_id
    return ADTEvent(trigger=trigger, patient=patient, encounter=encounter, prior_identifiers=prior)


def build_ack(msg: Message | None, code: str, text: str = "", *, now: datetime | None = None) -> str:
    """An ACK for ``msg`` (or a best-effort one when the message could not be read)."""
    from django.utils import timezone as dj_timezone

    stamp = (now or dj_timezone.now()).astimezone(ZoneInfo(settings.TIME_ZONE)).strftime("%Y%m%d%H%M%S")
    if msg is not None:
        sender_app, sender_fac = msg.get("MSH", 3), msg.get("MSH", 4)
        me_app, me_fac = msg.get("MSH", 5) or "CareDesk", msg.get("MSH", 6) or "CareDesk"
        control, version, trigger = msg.control_id, msg.get("MSH", 12) or "2.5", msg.trigger
    else:
        sender_app = sender_fac = ""
        me_app = me_fac = "CareDesk"
        control, version, trigger = "", "2.5", ""
    clean = text.replace("|", "/").replace("^", " ").replace("~", " ").replace("\\", "/").replace("&", "+")[:200]
    segments = [
        f"MSH|^~\\&|{me_app}|{me_fac}|{sender_app}|{sender_fac}|{stamp}||ACK^{trigger}^ACK|ACK{control}|P|{version}",
        f"MSA|{code}|{control}|{clean}",
    ]
    if code != "AA":
        # HL7 table 0357: 207 application internal error; 101 required field missing / bad message
        err = "207^Application internal error" if code == "AE" else "101^Required field missing"
        segments.append(f"ERR|||{err}^HL70357|E||||{clean}")
    return "\r".join(segments)
