"""Permissions this module adds to each role (merged into accounts.roles.ROLE_PERMISSIONS)."""

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "agent": ["followups.work_followups"],
    "supervisor": [
        "followups.work_followups",
        "followups.supervise_followups",
        "followups.add_plantemplate",
        "followups.change_plantemplate",
        "followups.change_planstep",
        "followups.add_planstep",
    ],
    "admin": [
        "followups.supervise_followups",
        "followups.add_plantemplate",
        "followups.change_plantemplate",
        "followups.change_planstep",
        "followups.add_planstep",
    ],
}
