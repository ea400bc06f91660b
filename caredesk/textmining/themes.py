"""Theme rules: a comment gets every theme one of whose keywords it contains."""

from __future__ import annotations

import contextlib
import threading

from django.db import DatabaseError

DEFAULT_THEMES: dict[str, tuple[str, list[str]]] = {
    "waiting": ("等候", ["排队", "等了", "等待", "等候", "候诊", "叫号", "太慢", "半天", "几个小时", "插队", "迟到", "推迟", "等床"]),
    "attitude": ("态度", ["态度", "耐心", "不耐烦", "热情", "冷漠", "客气", "凶", "脸色", "敷衍", "礼貌", "亲切", "温柔", "尊重"]),
    "fees": ("费用", ["收费", "费用", "价格", "太贵", "贵", "缴费", "医保", "报销", "押金", "账单", "红包", "乱收费", "退钱"]),
    "environment": ("环境", ["环境", "空调", "吵", "安静", "噪音", "拥挤", "通风", "墙皮", "标识", "指示牌", "座位", "窗户", "蚊子"]),
    "parking": ("停车", ["停车", "车位", "停车场", "停车费", "出口", "车库"]),
    "food": ("饮食", ["饭菜", "食堂", "伙食", "饮食", "营养餐", "吃不下", "味道", "口味", "送餐", "饭"]),
    "process": ("流程", ["流程", "手续", "挂号", "预约", "来回跑", "跑了好几", "自助机", "结算", "系统", "推诿", "折腾"]),
    "communication": ("沟通", ["沟通", "解释", "讲解", "说明", "听不懂", "告知", "通知", "交代", "回答", "说清楚"]),
    "privacy": ("隐私", ["隐私", "遮挡", "拉帘", "帘子", "当着", "资料", "泄露", "同意"]),
    "cleanliness": ("卫生", ["卫生", "干净", "脏", "打扫", "消毒", "异味", "气味", "垃圾", "污渍", "保洁", "厕所", "卫生间"]),
}

_lock = threading.Lock()
_rules: list[tuple[str, tuple[str, ...]]] | None = None


def load_rules() -> list[tuple[str, tuple[str, ...]]]:
    """Active ThemeRule rows when the table has any, the shipped defaults otherwise."""
    from .models import ThemeRule

    try:
        rows = list(ThemeRule.objects.filter(active=True))
    except DatabaseError:
        rows = []
    if rows:
        return [(r.code, tuple(r.keyword_list())) for r in rows]
    return [(code, tuple(words)) for code, (_label, words) in DEFAULT_THEMES.items()]


def rules() -> list[tuple[str, tuple[str, ...]]]:
    global _rules
    current = _rules
    if current is None:
        with _lock:
            if _rules is None:
                _rules = load_rules()
            current = _rules
    return current


def reset() -> None:
    global _rules
    with _lock:
        _rules = None


def themes_of(text: str) -> list[str]:
    return [code for code, words in rules() if any(w in text for w in words)]


def labels() -> dict[str, str]:
    from .models import ThemeRule

    result = {code: label for code, (label, _w) in DEFAULT_THEMES.items()}
    with contextlib.suppress(DatabaseError):
        result.update(dict(ThemeRule.objects.values_list("code", "label")))
    return result
