"""Permissions this module adds to each role (merged into accounts.roles.ROLE_PERMISSIONS).

agent: sees invitations and QR posters, enters answers during a call. supervisor/admin: everything
(rules, QR codes, the feedback board, re-check, statistics). dept_head: the feedback items of their departments
(call the patient, rectify). quality: the board and re-checks. executive: reads the board.
"""

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "agent": ["surveys.view_invitation", "surveys.view_departmentqr", "surveys.enter_by_phone"],
    "supervisor": [
        "surveys.view_surveyrule", "surveys.change_surveyrule", "surveys.add_surveyrule",
        "surveys.view_invitation", "surveys.enter_by_phone",
        "surveys.view_departmentqr", "surveys.add_departmentqr", "surveys.change_departmentqr",
        "surveys.view_feedbackitem", "surveys.change_feedbackitem", "surveys.recheck_feedbackitem",
    ],
    "dept_head": ["surveys.view_feedbackitem", "surveys.change_feedbackitem", "surveys.view_departmentqr"],
    "quality": ["surveys.view_surveyrule", "surveys.view_invitation", "surveys.view_feedbackitem",
                "surveys.recheck_feedbackitem"],
    "executive": ["surveys.view_feedbackitem"],
    "admin": [
        "surveys.view_surveyrule", "surveys.change_surveyrule", "surveys.add_surveyrule",
        "surveys.view_invitation", "surveys.enter_by_phone",
        "surveys.view_departmentqr", "surveys.add_departmentqr", "surveys.change_departmentqr",
        "surveys.view_feedbackitem", "surveys.change_feedbackitem", "surveys.recheck_feedbackitem",
    ],
}

# Statistics dashboard: department heads see their own departments (scope).
STATS_ROLES = ("supervisor", "dept_head", "quality", "executive", "admin")
for _code in STATS_ROLES:
    ROLE_PERMISSIONS.setdefault(_code, []).append("surveys.view_survey_stats")
