from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# The service centre's modules in menu order: (key, label, url name or None until it exists,
# permission needed or None). Later modules fill in their url names.
MODULES: list[tuple[str, Any, str | None, str | None]] = [
    ("patients", _("患者档案"), "patients:list", None),
    ("intake", _("数据接入"), "intake:home", None),
    ("contacts", _("咨询登记"), "contacts:list", None),
    ("appointments", _("预约分诊"), "appointments:home", None),
    ("followups", _("回访随访"), "followups:queue", None),
    ("complaints", _("投诉表扬"), "complaints:list", None),
    ("surveys", _("满意度调查"), "surveys:home", None),
    ("knowledge", _("标准答复"), "knowledge:home", None),
    ("quality", _("员工考核"), "quality:home", None),
    ("reports", _("统计报表"), "reports:home", None),
    ("audit", _("审计日志"), "core:audit", "accounts.view_audit"),
    ("accounts", _("员工与科室"), "accounts:staff", "accounts.manage_staff"),
    ("calendar", _("工作日历"), "core:calendar", "core.change_calendaroverride"),
]


def _url(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items = []
    for key, label, url_name, perm in MODULES:
        if perm and not user.has_perm(perm):
            continue
        items.append({"key": key, "label": label, "url": _url(url_name)})
    return {"nav_modules": items}
