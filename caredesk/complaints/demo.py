"""Demo complaints for ``seed_demo``: written-for-CareDesk Chinese cases across the channels, the
five categories and the demo departments, some taken through the workflow (accepted, verified,
resolved, archived, analysed) by the demo staff. Idempotent: each demo case carries the source
("demo", "<seed>-<n>") and is registered once; a re-run creates and changes nothing."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from caredesk.accounts.demo import SURNAMES
from caredesk.accounts.models import Department

from . import actions
from .actions import ComplaintData
from .models import Complaint

# (category, department code, severity, channel, staff, content, demands)
CASES: list[tuple[str, str, str, str, str, str, str]] = [
    ("service_attitude", "WK-GK", "general", "phone", "骨科门诊医生",
     "复诊时想问清楚康复训练怎么做，医生一直低头写病历，说了两句就叫下一位，感觉被敷衍。", "希望医生能把注意事项讲清楚"),
    ("service_attitude", "NK-XN", "general", "walk_in", "心内科病房夜班护士",
     "父亲住院第二晚输液报警响了很久，按铃后护士过来语气很冲，说我们不要老按铃。", "希望护士长了解情况并改进"),
    ("process", "YJ-FS", "general", "online", "",
     "预约了上午九点的核磁共振，到现场等了将近三个小时才做上，中间也没有人告诉我们要等多久。", "希望预约时间准确，延误要及时告知"),
    ("fees", "YJ-JY", "serious", "letter", "门诊收费处",
     "上周抽血化验，缴费单上同一个项目收了两次，拿着单子去问，窗口说要找开单医生，来回跑了三趟。", "退还重复收取的费用"),
    ("medical_quality", "WK-PT", "serious", "walk_in", "普外科主治医生",
     "母亲做完阑尾手术后伤口一直渗液，复查时医生说没事，回家后发烧到三十九度，又到急诊住院处理。", "要求科室说明原因并承担后续治疗费用"),
    ("process", "KFZX-DY", "general", "hotline_12345", "门诊一楼导医台",
     "带老人来看病，自助机不会操作，导医台没人，问了保安也说不清楚，在大厅里转了二十多分钟。", "希望高峰时段导医台有人"),
    ("other", "HL", "general", "email", "",
     "住院部五楼卫生间地面一直湿滑，已经有病人家属差点摔倒，反映给护工也没人处理。", "尽快整改，防止有人摔伤"),
    ("fees", "NK-NF", "general", "phone", "",
     "出院结算时发现医保报销比例和入院时说的不一样，问了几个窗口答复都不一致。", "请给一个明确的书面解释"),
    ("service_attitude", "EK", "serious", "walk_in", "儿科急诊分诊护士",
     "孩子高烧到急诊，分诊护士让我们先去挂号再回来，我们说孩子抽搐过她也不看一眼。", "希望医院重视急诊分诊流程和态度"),
    ("medical_quality", "WG-KQ", "general", "online", "口腔科医生",
     "补牙后第二天就开始疼，回去复诊又说要做根管，前后说法不一样，多花了不少钱。", "希望说明第一次处理是否恰当"),
    ("process", "TJ", "general", "third_party", "",
     "单位组织体检，报告说好一周出，过了三周还没拿到，打电话问一直说在审核。", "尽快出报告"),
    ("other", "ZY", "general", "followup", "",
     "回访时患者提到中医科候诊区座位太少，老人只能站着等，夏天也没有空调。", "增加座位、开空调"),
    ("service_attitude", "YJ-YJ", "general", "survey", "门诊药房窗口",
     "满意度问卷留言：取药窗口工作人员和同事聊天，叫号叫错了也不道歉。", ""),
    ("medical_quality", "FCK-CK", "major", "letter", "产科医生",
     "家属来信：产妇分娩后大出血转入重症监护，家属认为产程中观察不及时，对抢救过程有很多疑问。", "要求医院组织专家说明并给出处理意见"),
    ("fees", "WK-GK", "general", "phone", "骨科病房",
     "住院清单上有一项康复理疗一天收了三次，实际只做了一次。", "核对并退还多收费用"),
    ("process", "JZ", "serious", "call", "急诊科",
     "晚上十一点带孩子看急诊，候诊两个多小时，期间几次询问都说前面还有病人，没有任何安抚。", "希望夜间增加医生"),
    ("service_attitude", "NK-HX", "general", "phone", "呼吸科门诊医生",
     "医生当着其他病人的面大声说我的病情，觉得隐私没有被尊重。", "希望医生注意保护病人隐私"),
    ("other", "KFZX", "general", "walk_in", "",
     "停车场出口收费处排队太长，看完病出来等了四十分钟才出去。", "增加出口通道或改成扫码缴费"),
]

FLOW = ["registered", "accepted", "verifying", "resolving", "feedback", "archived", "analysed", "analysed"]


def _staff() -> dict[str, Any]:
    user_model = get_user_model()
    found = {u.username: u for u in user_model.objects.filter(username__in=["agent", "depthead", "supervisor", "quality"])}
    return found


def _walk(c: Complaint, target: str, staff: dict[str, Any], rng: random.Random) -> None:
    agent = staff.get("agent")
    head = staff.get("quality") if c.category == "medical_quality" else (staff.get("depthead") or staff.get("supervisor"))
    sup = staff.get("supervisor")
    order = FLOW
    goal = order.index(target)
    if goal >= 1:
        actions.accept(c, acting_user=agent, note="已电话联系投诉人，告知受理编号")
    if goal >= 2:
        actions.request_statement(c, acting_user=head, staff_name=c.staff_text or "当班人员")
        actions.record_statement(c, acting_user=head, content="已了解当时情况：沟通不到位，解释不够耐心，今后注意。")
        actions.classify(c, acting_user=head, finding=rng.choice(["substantiated", "partly", "unsubstantiated"]),
                         note="经科室讨论并核对记录后定性。")
    if goal >= 3:
        if c.category == "fees":
            actions.propose_plan(c, acting_user=head, kind="refund", description="核对清单后退还多收费用，并向患者说明。",
                                 amount=Decimal(rng.choice([35, 80, 120, 260])))
            actions.approve_plan(c, acting_user=sup, note="同意退费")
        else:
            actions.propose_plan(c, acting_user=head, kind=rng.choice(["explanation", "apology", "correction"]),
                                 description="科室负责人与投诉人当面沟通，说明情况并致歉，同时在科室内部整改。")
    if goal >= 4:
        actions.resolve(c, acting_user=sup, summary="已按方案处理，投诉人已知晓处理经过。")
    if goal >= 5:
        actions.give_feedback(c, acting_user=sup, rating=rng.choice([3, 4, 4, 5, 5]), note="电话回访投诉人。")
    if goal >= 6:
        actions.archive(c, acting_user=sup)
    if goal >= 7:
        actions.analyse(c, acting_user=sup, root_cause="高峰时段人手紧张，沟通环节缺少标准话术。",
                        suggestion="纳入科室月度培训，高峰时段增加人员。")


def seed_complaints(n: int = 40, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    staff = _staff()
    depts = dict(Department.objects.values_list("code", "pk"))
    created = 0
    now = timezone.now()
    for i in range(n):
        key = f"{seed}-{i}"
        if Complaint.objects.filter(source_type="demo", source_id=key).exists():
            continue
        category, dept, severity, channel, who, content, demands = CASES[i % len(CASES)]
        name = rng.choice(SURNAMES) + rng.choice("伟芳娜敏静丽强磊军洋勇艳杰") + ("" if rng.random() < 0.4 else rng.choice("华明红霞平"))
        phone = rng.choice(["138", "139", "150", "186", "135"]) + f"{rng.randrange(10**8):08d}"
        received = now - timedelta(days=rng.randrange(0, 45), hours=rng.randrange(0, 9), minutes=rng.randrange(60))
        c = actions.register_complaint(ComplaintData(
            channel=channel, content=content, received_at=received, category=category, severity=severity,
            complainant_name=name, complainant_phone=phone, relation=rng.choice(["self", "self", "child", "spouse"]),
            department_id=depts.get(dept), staff_text=who, demands=demands, event_at=received - timedelta(hours=rng.randrange(1, 48)),
            event_place="门诊楼" if channel != "email" else "住院部", source_type="demo", source_id=key,
        ), acting_user=staff.get("agent"))
        created += 1
        age = (now - received).days
        target = FLOW[min(len(FLOW) - 1, age // 5)] if i % 7 else "registered"
        _walk(c, target, staff, rng)
    return {"complaints_created": created}
