"""Demo organisation: a typical tertiary hospital's departments, doctors and one login per role.
Deterministic for a given seed and idempotent: running it again changes nothing."""

from __future__ import annotations

import random
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from .models import Department, Doctor, User
from .roles import sync_roles

# (code, name, kind, children)
DEPARTMENT_TREE: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("NK", "内科", "clinical", [("NK-XN", "心血管内科"), ("NK-HX", "呼吸与危重症医学科"), ("NK-XH", "消化内科"),
                              ("NK-SJ", "神经内科"), ("NK-NF", "内分泌科"), ("NK-SN", "肾内科"), ("NK-XY", "血液内科")]),
    ("WK", "外科", "clinical", [("WK-PT", "普通外科"), ("WK-GK", "骨科"), ("WK-SJ", "神经外科"), ("WK-XW", "心胸外科"),
                              ("WK-MN", "泌尿外科"), ("WK-GD", "肝胆外科")]),
    ("FCK", "妇产科", "clinical", [("FCK-FK", "妇科"), ("FCK-CK", "产科")]),
    ("EK", "儿科", "clinical", [("EK-XS", "新生儿科")]),
    ("WG", "五官科", "clinical", [("WG-YK", "眼科"), ("WG-EB", "耳鼻咽喉科"), ("WG-KQ", "口腔科")]),
    ("PF", "皮肤科", "clinical", []),
    ("ZY", "中医科", "clinical", []),
    ("KF", "康复医学科", "clinical", []),
    ("ZL", "肿瘤科", "clinical", []),
    ("JZ", "急诊科", "clinical", []),
    ("TJ", "体检中心", "clinical", []),
    ("YJ", "医技科室", "medtech", [("YJ-FS", "放射科"), ("YJ-JY", "检验科"), ("YJ-CS", "超声科"), ("YJ-YJ", "药剂科")]),
    ("HL", "护理部", "nursing", []),
    ("YW", "医务科", "admin", [("YW-ZK", "质控办"), ("YW-YH", "医患关系办公室")]),
    ("KFZX", "客户服务中心", "service", [("KFZX-HF", "回访组"), ("KFZX-ZX", "咨询组"), ("KFZX-DY", "导医组")]),
    ("XXK", "信息科", "admin", []),
    ("YB", "院办", "admin", []),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红玲建国志强海燕晓东春梅文博子涵思远雨欣浩然嘉怡"
TITLES = ["主任医师", "副主任医师", "主治医师", "住院医师"]

DEMO_PASSWORD = "CareDesk-demo-2026!"  # noqa: S105 - printed by `make run`; demo databases only

# username, display name, role, department codes
DEMO_STAFF: list[tuple[str, str, str, list[str]]] = [
    ("agent", "王小华", "agent", ["KFZX-HF"]),
    ("consultant", "刘晓敏", "consultant", ["KFZX-ZX"]),
    ("guide", "陈思雨", "guide", ["KFZX-DY"]),
    ("supervisor", "李主管", "supervisor", ["KFZX"]),
    ("depthead", "赵主任", "dept_head", ["WK-GK"]),
    ("quality", "孙质控", "quality", ["YW-ZK"]),
    ("executive", "周院长", "executive", ["YB"]),
    ("admin", "系统管理员", "admin", ["XXK"]),
]


def _name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


@transaction.atomic
def seed_organisation(seed: int = 1) -> dict[str, Any]:
    sync_roles()
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    order = 0
    for code, name, kind, children in DEPARTMENT_TREE:
        order += 10
        parent, _ = Department.objects.get_or_create(code=code, defaults={"name": name, "kind": kind, "sort_order": order})
        for i, (ccode, cname) in enumerate(children, start=1):
            Department.objects.get_or_create(
                code=ccode, defaults={"name": cname, "kind": kind, "parent": parent, "sort_order": order + i}
            )
    doctors = 0
    clinical = Department.objects.filter(kind="clinical").order_by("code")
    for dept in clinical:
        for n in range(1, 4):
            _obj, created = Doctor.objects.get_or_create(
                staff_no=f"D{dept.code}-{n:02d}",
                defaults={"name": _name(rng), "department": dept, "title": TITLES[(n - 1) % len(TITLES)]},
            )
            doctors += created
    staff = 0
    for username, display, role, dept_codes in DEMO_STAFF:
        user, created = User.objects.get_or_create(username=username, defaults={"display_name": display})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.password_changed_at = timezone.now()
            user.save()
            user.groups.set(Group.objects.filter(name=role))
            user.departments.set(Department.objects.filter(code__in=dept_codes))
            staff += 1
    return {"departments": Department.objects.count(), "doctors_created": doctors, "staff_created": staff}
