"""Helpers for the complaint tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from caredesk.complaints import actions
from caredesk.complaints.actions import ComplaintData

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def make_complaint(user: Any = None, **overrides: Any) -> Any:
    data: dict[str, Any] = {
        "channel": "phone",
        "content": "骨科门诊医生看诊时态度冷淡，没有解释检查结果就让我走了。",
        "category": "service_attitude",
        "severity": "general",
        "complainant_name": "张三",
        "complainant_phone": "13812345678",
        "staff_text": "骨科门诊医生",
    }
    data.update(overrides)
    return actions.register_complaint(ComplaintData(**data), acting_user=user)


def walk_to(complaint: Any, status: str, *, agent: Any, head: Any, supervisor: Any) -> Any:
    """Take a case through the steps up to ``status``."""
    order = ["accepted", "verifying", "resolving", "feedback", "feedback_given", "archived", "analysed"]
    target = order.index(status)
    c = actions.accept(complaint, acting_user=agent)
    if target >= 1:
        actions.request_statement(c, acting_user=head, staff_name="刘医生")
        actions.record_statement(c, acting_user=head, content="当天门诊量大，解释不够耐心，今后改进。")
        c = actions.classify(c, acting_user=head, finding="partly", note="沟通不足属实，诊疗无误。")
    if target >= 2:
        actions.propose_plan(c, acting_user=head, kind="apology", description="科主任当面致歉并重新解释检查结果。")
    if target >= 3:
        c = actions.resolve(c, acting_user=supervisor, summary="已当面致歉并解释检查结果，患者表示理解。")
    if target >= 4:
        c = actions.give_feedback(c, acting_user=supervisor, rating=4, note="电话回访，患者基本满意。")
    if target >= 5:
        c = actions.archive(c, acting_user=supervisor)
    if target >= 6:
        c = actions.analyse(c, acting_user=supervisor, root_cause="门诊高峰时段医患沟通时间不足。", suggestion="高峰时段增加导医协助解释。")
    c.refresh_from_db()
    return c
