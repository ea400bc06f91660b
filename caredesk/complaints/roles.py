"""Permissions this module adds to each role (merged into accounts.roles.ROLE_PERMISSIONS), and the
rule that says which workflow actions a person may take on a given case.

- agent (客服专员): registers and accepts complaints, sees all complaints (they take them in).
- dept_head (科室负责人): sees their departments' cases; verifies them (statement, 定性) and proposes
  a plan.
- quality (医务科/质控办): the medical-quality cases: verifies, plans, approves, resolves them.
- supervisor (客服主管): everything, every department.
- executive: reads.
"""

from __future__ import annotations

from typing import Any

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "agent": [
        "complaints.view_complaint",
        "complaints.view_all_complaints",
        "complaints.add_complaint",
        "complaints.accept_complaint",
    ],
    "dept_head": [
        "complaints.view_complaint",
        "complaints.verify_complaint",
    ],
    "quality": [
        "complaints.view_complaint",
        "complaints.view_all_complaints",
        "complaints.add_complaint",
        "complaints.verify_complaint",
        "complaints.resolve_complaint",
        "complaints.approve_plan",
    ],
    "supervisor": [
        "complaints.view_complaint",
        "complaints.view_all_complaints",
        "complaints.add_complaint",
        "complaints.accept_complaint",
        "complaints.verify_complaint",
        "complaints.resolve_complaint",
        "complaints.approve_plan",
        "complaints.close_complaint",
        "complaints.extend_deadline",
        "complaints.change_deadlinepolicy",
        "complaints.change_subcategory",
        "complaints.add_subcategory",
    ],
    "executive": ["complaints.view_complaint", "complaints.view_all_complaints"],
    "admin": [
        "complaints.view_complaint",
        "complaints.view_all_complaints",
        "complaints.change_deadlinepolicy",
        "complaints.change_subcategory",
        "complaints.add_subcategory",
    ],
}

# workflow action → the permission it needs
ACTION_PERMISSIONS: dict[str, str] = {
    "accept": "complaints.accept_complaint",
    "request_statement": "complaints.verify_complaint",
    "record_statement": "complaints.verify_complaint",
    "classify": "complaints.verify_complaint",
    "propose_plan": "complaints.verify_complaint",
    "approve_plan": "complaints.approve_plan",
    "reject_plan": "complaints.approve_plan",
    "resolve": "complaints.resolve_complaint",
    "give_feedback": "complaints.resolve_complaint",
    "reopen": "complaints.resolve_complaint",
    "transfer": "complaints.resolve_complaint",
    "pause": "complaints.resolve_complaint",
    "resume": "complaints.resolve_complaint",
    "extend_deadline": "complaints.extend_deadline",
    "archive": "complaints.close_complaint",
    "analyse": "complaints.close_complaint",
    "merge": "complaints.close_complaint",
    "attach": "complaints.view_complaint",
}

# Actions the quality office may take only on medical-quality cases (a supervisor takes any).
QUALITY_ONLY_MEDICAL = frozenset({
    "request_statement", "record_statement", "classify", "propose_plan", "approve_plan", "reject_plan",
    "resolve", "give_feedback", "reopen", "transfer", "pause", "resume",
})


def can(user: Any, action: str, complaint: Any) -> bool:
    """May ``user`` take ``action`` on ``complaint``? Permission first, then the case rules: a
    department head acts only on their departments' cases; the quality office (without the
    supervisor's powers) only on medical-quality cases."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    perm = ACTION_PERMISSIONS.get(action)
    if perm is None or not user.has_perm(perm):
        return False
    if user.has_perm("complaints.close_complaint"):  # supervisor: all cases
        return True
    if action in QUALITY_ONLY_MEDICAL and user.has_role("quality") and not user.has_role("dept_head"):
        return complaint.category == "medical_quality"
    if not user.has_perm("complaints.view_all_complaints"):
        visible = user.visible_department_ids()
        if visible is not None and complaint.department_id not in visible:
            return False
    return True
