"""Questionnaires shipped with CareDesk (our own wording). ``ensure_defaults()`` creates them once;
a hospital edits them through new versions, which this never overwrites."""

from __future__ import annotations

from typing import Any

from .models import Questionnaire

SATISFACTION_CHOICES = [
    {"code": "5", "label": "很满意", "score": 5},
    {"code": "4", "label": "满意", "score": 4},
    {"code": "3", "label": "一般", "score": 3},
    {"code": "2", "label": "不满意", "score": 2},
    {"code": "1", "label": "很不满意", "score": 1},
]

_RECOVERY = {
    "title": "康复情况",
    "items": [
        {"link_id": "recovery", "text": "出院以来，您（或家人）的身体恢复得怎么样？", "kind": "single",
         "required": True, "dimension": "recovery",
         "choices": [
             {"code": "well", "label": "恢复良好", "score": 5},
             {"code": "slow", "label": "恢复较慢", "score": 3},
             {"code": "same", "label": "和出院时差不多", "score": 2},
             {"code": "worse", "label": "比出院时加重", "score": 1},
         ],
         "red_flag": {"choices": ["worse"]}},
        {"link_id": "recovery_detail", "text": "请记录患者描述的不适症状", "kind": "textarea", "required": True,
         "enable_when": [{"item": "recovery", "op": "in", "value": ["same", "worse"]}]},
        {"link_id": "warning_signs", "text": "是否出现以下情况？", "kind": "multiple",
         "help_text": "出现任意一项请立即提醒科室值班人员。",
         "choices": [
             {"code": "none", "label": "都没有"},
             {"code": "fever", "label": "持续发热"},
             {"code": "bleeding", "label": "出血"},
             {"code": "breathing", "label": "呼吸困难"},
             {"code": "chest_pain", "label": "胸痛"},
         ],
         "red_flag": {"choices": ["fever", "bleeding", "breathing", "chest_pain"]}},
    ],
}

_MEDICATION = {
    "title": "用药与复诊",
    "items": [
        {"link_id": "medication", "text": "是否按医嘱按时服药？", "kind": "single", "required": True,
         "choices": [
             {"code": "yes", "label": "按时服药", "score": 5},
             {"code": "sometimes", "label": "偶尔漏服", "score": 3},
             {"code": "stopped", "label": "已自行停药", "score": 1},
             {"code": "none", "label": "无需服药"},
         ]},
        {"link_id": "medication_reason", "text": "停药或漏服的原因", "kind": "text",
         "enable_when": [{"item": "medication", "op": "in", "value": ["sometimes", "stopped"]}]},
        {"link_id": "revisit_known", "text": "是否清楚复诊时间？", "kind": "single", "required": True,
         "choices": [{"code": "yes", "label": "清楚", "score": 5}, {"code": "no", "label": "不清楚，已告知", "score": 3}]},
    ],
}

_SATISFACTION = {
    "title": "满意度与意见",
    "items": [
        {"link_id": "satisfaction", "text": "您对这次住院的服务总体满意吗？", "kind": "rating", "required": True,
         "dimension": "attitude"},
        {"link_id": "suggestion", "text": "患者的意见或建议（请记录原话）", "kind": "textarea"},
    ],
}

FOLLOWUP_DISCHARGE: dict[str, Any] = {
    "code": "followup-discharge",
    "title": "出院随访记录（通用）",
    "purpose": "followup",
    "description": "出院后各次电话随访通用的记录表。",
    "introduction": "您好，这里是医院客户服务中心，想了解一下出院后的恢复情况，大约需要三分钟。",
    "thanks": "感谢您的配合，祝您早日康复。如有不适请及时就医。",
    "sections": [_RECOVERY, _MEDICATION, _SATISFACTION],
}

FOLLOWUP_SURGERY: dict[str, Any] = {
    "code": "followup-surgery",
    "title": "术后随访记录（外科）",
    "purpose": "followup",
    "description": "外科系统出院患者的术后随访记录表。",
    "introduction": FOLLOWUP_DISCHARGE["introduction"],
    "thanks": FOLLOWUP_DISCHARGE["thanks"],
    "sections": [
        _RECOVERY,
        {"title": "伤口情况", "items": [
            {"link_id": "wound_pain", "text": "伤口疼痛程度", "kind": "single", "required": True,
             "dimension": "recovery",
             "choices": [
                 {"code": "none", "label": "不痛", "score": 5},
                 {"code": "mild", "label": "轻微疼痛", "score": 4},
                 {"code": "moderate", "label": "明显疼痛，影响睡眠", "score": 2},
                 {"code": "severe", "label": "剧烈疼痛", "score": 1},
             ],
             "red_flag": {"choices": ["severe"]}},
            {"link_id": "wound_state", "text": "伤口有无红肿、渗液？", "kind": "single", "required": True,
             "choices": [
                 {"code": "normal", "label": "愈合正常", "score": 5},
                 {"code": "red", "label": "轻度红肿", "score": 3},
                 {"code": "discharge", "label": "有渗液或化脓", "score": 1},
             ],
             "red_flag": {"choices": ["discharge"]}},
            {"link_id": "stitches", "text": "是否已拆线或换药？", "kind": "single",
             "choices": [{"code": "yes", "label": "已完成"}, {"code": "no", "label": "尚未，已提醒时间"}]},
        ]},
        _SATISFACTION,
    ],
}

FOLLOWUP_INTERNAL: dict[str, Any] = {
    "code": "followup-internal",
    "title": "出院随访记录（内科）",
    "purpose": "followup",
    "description": "内科系统出院患者的随访记录表，侧重用药和指标监测。",
    "introduction": FOLLOWUP_DISCHARGE["introduction"],
    "thanks": FOLLOWUP_DISCHARGE["thanks"],
    "sections": [
        _RECOVERY,
        _MEDICATION,
        {"title": "指标监测", "items": [
            {"link_id": "monitoring", "text": "是否按要求监测血压、血糖等指标？", "kind": "single", "required": True,
             "choices": [
                 {"code": "regular", "label": "按时监测", "score": 5},
                 {"code": "irregular", "label": "不规律", "score": 3},
                 {"code": "never", "label": "没有监测", "score": 1},
             ]},
        ]},
        _SATISFACTION,
    ],
}

FOLLOWUP_VISIT: dict[str, Any] = {
    "code": "followup-outpatient",
    "title": "门诊回访记录",
    "purpose": "followup",
    "description": "门诊就诊次日回访和初诊首次回访使用。",
    "introduction": "您好，这里是医院客户服务中心，想占用您一分钟了解昨天的就诊体验。",
    "thanks": "感谢您的宝贵意见，祝您健康。",
    "sections": [
        {"title": "就诊体验", "items": [
            {"link_id": "overall", "text": "对这次门诊就诊总体满意吗？", "kind": "single", "required": True,
             "dimension": "attitude", "choices": SATISFACTION_CHOICES},
            {"link_id": "waiting", "text": "候诊时间是否可以接受？", "kind": "single", "required": True,
             "dimension": "efficiency",
             "choices": [
                 {"code": "ok", "label": "可以接受", "score": 5},
                 {"code": "long", "label": "偏长", "score": 3},
                 {"code": "too_long", "label": "太长", "score": 1},
             ]},
            {"link_id": "doctor_explained", "text": "医生是否讲清楚了病情和注意事项？", "kind": "single",
             "required": True, "dimension": "communication",
             "choices": [{"code": "yes", "label": "讲清楚了", "score": 5}, {"code": "partly", "label": "部分清楚", "score": 3},
                         {"code": "no", "label": "没有讲清楚", "score": 1}]},
            {"link_id": "problem", "text": "患者反映的问题（请记录原话）", "kind": "textarea",
             "enable_when": [{"item": "overall", "op": "in", "value": ["1", "2", "3"]}]},
        ]},
    ],
}

# --- satisfaction surveys (purpose "survey"): answered by patients on their phones ---------------

_PROBLEM_AREAS = [
    {"code": "attitude", "label": "工作人员的态度"},
    {"code": "efficiency", "label": "排队、等候时间太长"},
    {"code": "environment", "label": "环境、设施不便"},
    {"code": "fees", "label": "费用不清楚或偏高"},
    {"code": "privacy", "label": "隐私没有得到保护"},
    {"code": "communication", "label": "医生护士没有讲清楚"},
    {"code": "other", "label": "其他"},
]


def _rating(link_id: str, text: str, dimension: str, *, required: bool = False, help_text: str = "") -> dict[str, Any]:
    item: dict[str, Any] = {"link_id": link_id, "text": text, "kind": "rating", "dimension": dimension}
    if required:
        item["required"] = True
    if help_text:
        item["help_text"] = help_text
    return item


def _closing(place: str) -> dict[str, Any]:
    """总体评价: overall rating (≤ 2 raises a red flag and asks what went wrong), recommend, comment."""
    return {"title": "总体评价", "items": [
        {"link_id": "overall", "text": f"综合来看，您对这次{place}的整体感受如何？", "kind": "rating",
         "required": True, "red_flag": {"max": 2}},
        {"link_id": "what_went_wrong", "text": "很抱歉让您失望了。主要是哪些方面没做好？（可多选）",
         "kind": "multiple", "required": True, "choices": _PROBLEM_AREAS,
         "enable_when": [{"item": "overall", "op": "<=", "value": 2}]},
        {"link_id": "recommend", "text": "如果亲友需要看病，您有多大可能推荐他们来本院？", "kind": "recommend",
         "required": True, "help_text": "0 表示完全不会推荐，10 表示一定会推荐。"},
        {"link_id": "comment", "text": "还有什么想告诉我们的吗？表扬、意见或建议都可以写在这里。", "kind": "textarea",
         "help_text": "请不要填写身份证号、手机号等个人信息。"},
    ]}


SURVEY_OUTPATIENT: dict[str, Any] = {
    "code": "survey-outpatient",
    "title": "门诊满意度调查",
    "purpose": "survey",
    "description": "门诊就诊后通过短信链接、扫码或电话邀请患者填写，约 3 分钟。",
    "introduction": "您好！感谢您近期来院就诊。请根据这次门诊的亲身经历打分（1 分最差，5 分最好），您的意见会直接转给相关科室改进。",
    "thanks": "问卷已提交，谢谢您抽出时间。祝您身体健康！",
    "sections": [
        {"title": "服务态度", "items": [
            _rating("op_window", "挂号、收费、药房窗口人员的服务态度", "attitude"),
            _rating("op_nurse", "分诊台护士和导医是否热情、耐心", "attitude"),
            _rating("op_doctor", "接诊医生的态度是否尊重、友善", "attitude", required=True),
        ]},
        {"title": "就诊效率", "items": [
            {"link_id": "op_booking", "text": "这次预约挂号方便吗？", "kind": "single", "dimension": "efficiency",
             "choices": [
                 {"code": "easy", "label": "很方便，很快约上", "score": 5},
                 {"code": "ok", "label": "还算顺利", "score": 4},
                 {"code": "hard", "label": "比较难约", "score": 2},
                 {"code": "failed", "label": "没约上，现场排队挂号", "score": 1},
             ]},
            {"link_id": "op_wait", "text": "从到达诊区到见到医生，大约等了多久？", "kind": "single", "required": True,
             "dimension": "efficiency",
             "choices": [
                 {"code": "lt15", "label": "15 分钟以内", "score": 5},
                 {"code": "lt30", "label": "15–30 分钟", "score": 4},
                 {"code": "lt60", "label": "30 分钟到 1 小时", "score": 3},
                 {"code": "lt120", "label": "1–2 小时", "score": 2},
                 {"code": "gt120", "label": "2 小时以上", "score": 1},
             ]},
            _rating("op_queue", "缴费、检查、取药的排队时间是否可以接受", "efficiency"),
        ]},
        {"title": "环境设施", "items": [
            _rating("op_clean", "候诊区和卫生间是否干净整洁", "environment"),
            _rating("op_signs", "院内指示牌是否清楚，容易找到诊室和检查科室", "environment"),
        ]},
        {"title": "费用透明", "items": [
            _rating("op_fee_clear", "收费项目和金额是否清楚明白", "fees"),
            {"link_id": "op_fee_surprise", "text": "是否遇到事先没有说明的收费？", "kind": "single", "dimension": "fees",
             "choices": [
                 {"code": "no", "label": "没有", "score": 5},
                 {"code": "unsure", "label": "说不清", "score": 3},
                 {"code": "yes", "label": "有", "score": 1},
             ]},
        ]},
        {"title": "隐私保护", "items": [
            _rating("op_one_room", "看诊时是否一医一患，其他人没有围观", "privacy"),
            _rating("op_info", "您的病情和个人信息是否得到妥善保护", "privacy",
                    help_text="例如叫号时不报全名、检查时有遮挡。"),
        ]},
        {"title": "医患沟通", "items": [
            _rating("op_listened", "医生是否耐心听您把病情说完", "communication"),
            _rating("op_explained", "医生是否讲清楚了诊断、用药和注意事项", "communication", required=True),
        ]},
        _closing("门诊就诊"),
    ],
}

SURVEY_INPATIENT: dict[str, Any] = {
    "code": "survey-inpatient",
    "title": "住院满意度调查",
    "purpose": "survey",
    "description": "出院后邀请患者或家属填写，了解住院期间的整体体验，约 4 分钟。",
    "introduction": "您好！感谢您选择本院住院治疗。请根据住院期间的亲身经历打分（1 分最差，5 分最好），我们会认真对待每一条意见。",
    "thanks": "感谢您的评价！祝您早日康复，如有不适请及时复诊。",
    "sections": [
        {"title": "服务态度", "items": [
            _rating("ip_nurse", "护士是否及时回应呼叫，态度亲切", "attitude", required=True),
            _rating("ip_doctor", "主管医生查房时的态度是否尊重、耐心", "attitude", required=True),
            _rating("ip_support", "护工、保洁、送餐等后勤人员的服务态度", "attitude"),
        ]},
        {"title": "就诊效率", "items": [
            _rating("ip_admission", "办理入院手续是否顺畅", "efficiency"),
            _rating("ip_tests", "住院期间的检查安排是否及时，不用久等", "efficiency"),
            _rating("ip_discharge", "出院结算是否快捷", "efficiency"),
        ]},
        {"title": "环境设施", "items": [
            _rating("ip_ward", "病房是否干净、安静，便于休息", "environment"),
            {"link_id": "ip_meals", "text": "住院期间的饮食如何？", "kind": "single", "dimension": "environment",
             "choices": [
                 {"code": "good", "label": "可口，符合治疗要求", "score": 5},
                 {"code": "fair", "label": "一般", "score": 3},
                 {"code": "poor", "label": "不满意", "score": 1},
                 {"code": "none", "label": "没有在医院订餐"},
             ]},
        ]},
        {"title": "费用透明", "items": [
            _rating("ip_daily_bill", "每日费用清单是否及时、看得懂", "fees"),
            _rating("ip_fee_told", "使用自费药品或耗材前，是否事先告知并征得同意", "fees"),
        ]},
        {"title": "隐私保护", "items": [
            _rating("ip_exam_privacy", "查体、换药、护理操作时是否有遮挡，保护了您的隐私", "privacy"),
            _rating("ip_info", "您的病情是否只在您和指定家属的范围内沟通", "privacy"),
        ]},
        {"title": "医患沟通", "items": [
            _rating("ip_plan", "医生是否向您讲清楚了病情和治疗方案", "communication", required=True),
            _rating("ip_home_care", "出院时是否交代清楚了用药、复诊和居家注意事项", "communication"),
        ]},
        _closing("住院"),
    ],
}

SURVEYS = [SURVEY_OUTPATIENT, SURVEY_INPATIENT]


DEFAULTS = [FOLLOWUP_DISCHARGE, FOLLOWUP_SURGERY, FOLLOWUP_INTERNAL, FOLLOWUP_VISIT, *SURVEYS]


def ensure_defaults() -> None:
    """Create each shipped questionnaire that does not exist yet (never touches existing ones)."""
    from .actions import create_from_spec, ensure_dimensions

    ensure_dimensions()
    existing = set(Questionnaire.objects.values_list("code", flat=True))
    for spec in DEFAULTS:
        if spec["code"] not in existing:
            create_from_spec(spec, audited=False)
