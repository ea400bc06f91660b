"""Deterministic demo patients for `seed_demo --patients N --seed S`: Chinese names, valid ID numbers
(correct region codes and check digits), mobiles, addresses and a history of outpatient visits and
inpatient stays across the demo departments. Uses a bulk path (calls ``refresh_derived_fields``);
idempotent: each demo patient carries the identifier ("DEMO", "<seed>-<n>") and is created once."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from caredesk.accounts.demo import SURNAMES
from caredesk.accounts.models import Department, Doctor

from .actions import refresh_visit_stats
from .models import Encounter, Patient, PatientIdentifier
from .validators import id_check_char

GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华玉萍红玲建国志海燕晓东春梅文博子涵思远雨欣浩然嘉怡宇轩梓萱俊"
REGIONS = [
    ("110101", "北京市东城区", ["东华门大街", "和平里东街", "安定门外大街"]),
    ("110105", "北京市朝阳区", ["建国路", "望京西路", "朝阳北路"]),
    ("310104", "上海市徐汇区", ["漕溪北路", "天钥桥路", "肇嘉浜路"]),
    ("440106", "广东省广州市天河区", ["天河路", "体育西路", "中山大道"]),
    ("320102", "江苏省南京市玄武区", ["中山路", "珠江路", "北京东路"]),
    ("330106", "浙江省杭州市西湖区", ["文三路", "天目山路", "教工路"]),
    ("420106", "湖北省武汉市武昌区", ["中南路", "武珞路", "和平大道"]),
    ("510107", "四川省成都市武侯区", ["人民南路", "科华北路", "武侯祠大街"]),
    ("370102", "山东省济南市历下区", ["泉城路", "经十路", "解放路"]),
    ("410105", "河南省郑州市金水区", ["花园路", "农业路", "经三路"]),
]
MOBILE_PREFIXES = ["138", "139", "135", "136", "137", "150", "151", "158", "159", "186", "187", "188", "131", "155",
                   "185", "133", "153", "180", "189", "177"]
DIAGNOSES: dict[str, list[tuple[str, str]]] = {
    "NK": [("原发性高血压", "I10"), ("2型糖尿病", "E11.900"), ("冠状动脉粥样硬化性心脏病", "I25.103"),
           ("社区获得性肺炎", "J18.900"), ("慢性胃炎", "K29.500"), ("脑梗死", "I63.900")],
    "WK": [("胆囊结石伴胆囊炎", "K80.100"), ("腰椎间盘突出症", "M51.202"), ("腹股沟疝", "K40.900"),
           ("桡骨远端骨折", "S52.500"), ("肾结石", "N20.000")],
    "FCK": [("子宫肌瘤", "D25.900"), ("妊娠状态", "Z33.x00")],
    "EK": [("急性支气管炎", "J20.900"), ("新生儿黄疸", "P59.900")],
    "WG": [("老年性白内障", "H25.900"), ("慢性鼻窦炎", "J32.900"), ("龋病", "K02.900")],
    "": [("急性上呼吸道感染", "J06.900"), ("湿疹", "L30.900"), ("健康查体", "Z00.000"), ("腰肌劳损", "M54.500")],
}
SOURCES = ["自然来诊", "百度", "微信公众号", "朋友介绍", "社区义诊", "电视广告", "美团/大众点评"]


def _id_number(rng: random.Random, region: str, born: date, sex: str) -> str:
    seq = rng.randrange(0, 100) * 10 + rng.choice([1, 3, 5, 7, 9] if sex == "M" else [0, 2, 4, 6, 8])
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def _departments() -> list[tuple[Department, list[Doctor]]]:
    depts = [d for d in Department.objects.filter(kind=Department.Kind.CLINICAL) if not d.children.exists()]
    doctors: dict[int, list[Doctor]] = {}
    for doctor in Doctor.objects.filter(department__in=depts):
        doctors.setdefault(doctor.department_id, []).append(doctor)
    return [(d, doctors.get(d.pk, [])) for d in depts]


def _diagnosis(rng: random.Random, dept: Department) -> tuple[str, str]:
    root = dept.code.split("-")[0]
    return rng.choice(DIAGNOSES.get(root, DIAGNOSES[""]))


@transaction.atomic
def seed_patients(count: int, seed: int = 1, now: datetime | None = None) -> dict[str, int]:
    """Create the demo patients numbered 1..count that do not exist yet (for this seed)."""
    now = now or timezone.now()
    existing = set(PatientIdentifier.objects.filter(system="DEMO", value__startswith=f"{seed}-").values_list("value", flat=True))
    departments = _departments()
    if not departments:
        return {"patients_created": 0, "encounters_created": 0}
    new_patients: list[Patient] = []
    plans: list[tuple[str, list[dict[str, Any]]]] = []
    for n in range(1, count + 1):
        key = f"{seed}-{n}"
        rng = random.Random(f"demo-patient-{key}")  # noqa: S311 - demo data; each patient depends only on (seed, n)
        if key in existing:
            continue
        sex = rng.choice(["M", "F"])
        born = date(1935, 1, 1) + timedelta(days=rng.randrange(0, 365 * 85))
        region, city, streets = rng.choice(REGIONS)
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_CHARS) + (rng.choice(GIVEN_CHARS) if rng.random() < 0.75 else "")
        mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(0, 10**8):08d}"
        patient = Patient(
            name=name, sex=sex, birth_date=born, id_number=_id_number(rng, region, born, sex), mobile=mobile,
            other_phones=(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(0, 10**8):08d}") if rng.random() < 0.2 else "",
            address=f"{city}{rng.choice(streets)}{rng.randrange(1, 300)}号{rng.randrange(1, 30)}栋{rng.randrange(101, 2400)}室",
            outpatient_no=f"MZ{seed:02d}{n:07d}", source_channel=rng.choice(SOURCES),
            vip_level=rng.choice([0] * 12 + [1, 1, 2, 3]), do_not_contact=rng.random() < 0.03,
            created_at=now - timedelta(days=800),
        )
        visits: list[dict[str, Any]] = []
        for k in range(rng.choice([1, 1, 2, 2, 3, 4, 6])):
            dept, doctors = rng.choice(departments)
            doctor = rng.choice(doctors) if doctors else None
            at = now - timedelta(days=rng.randrange(1, 720), hours=rng.randrange(0, 9), minutes=rng.randrange(0, 60))
            at = at.replace(hour=8, second=0, microsecond=0) + timedelta(hours=rng.randrange(0, 9))
            text, code = _diagnosis(rng, dept)
            visit: dict[str, Any] = {
                "source_id": f"{key}-{k}", "department": dept, "department_name": dept.name, "doctor": doctor,
                "doctor_name": doctor.name if doctor else "", "diagnosis_text": text, "diagnosis_code": code,
                "visit_at": at, "kind": Encounter.Kind.OUTPATIENT, "status": Encounter.Status.ACTIVE,
                "visit_type": Encounter.VisitType.FIRST if k == 0 else Encounter.VisitType.RETURN,
            }
            if rng.random() < 0.25:
                stay = timedelta(days=rng.randrange(2, 15))
                visit.update(kind=Encounter.Kind.INPATIENT, admitted_at=at, visit_type="")
                if at + stay < now:
                    visit.update(
                        discharged_at=at + stay, status=Encounter.Status.DISCHARGED,
                        outcome=rng.choice(["cured", "improved", "improved", "improved", "not_cured", "transferred"]),
                    )
                patient.inpatient_no = patient.inpatient_no or f"ZY{seed:02d}{n:07d}"
                patient.customer_type = Patient.CustomerType.INPATIENT
            visits.append(visit)
        patient.refresh_derived_fields()
        new_patients.append(patient)
        plans.append((key, visits))
    Patient.objects.bulk_create(new_patients, batch_size=500)
    encounters: list[Encounter] = []
    identifiers: list[PatientIdentifier] = []
    for patient, (key, visits) in zip(new_patients, plans, strict=True):
        identifiers.append(PatientIdentifier(patient=patient, system="DEMO", value=key))
        encounters += [Encounter(patient=patient, source_system="DEMO", **v) for v in visits]
    PatientIdentifier.objects.bulk_create(identifiers, batch_size=1000)
    Encounter.objects.bulk_create(encounters, batch_size=1000)
    for patient in new_patients:
        refresh_visit_stats(patient)
    return {"patients_created": len(new_patients), "encounters_created": len(encounters)}
