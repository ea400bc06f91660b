"""Permissions this module adds to each role (merged into accounts.roles.ROLE_PERMISSIONS)."""

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "agent": ["questionnaires.view_questionnaire", "questionnaires.view_response"],
    "supervisor": [
        "questionnaires.view_questionnaire", "questionnaires.change_questionnaire", "questionnaires.view_response",
    ],
    # Department heads read their own departments' answers (FHIR QuestionnaireResponse, statistics).
    "dept_head": ["questionnaires.view_response"],
    "quality": ["questionnaires.view_questionnaire", "questionnaires.view_response"],
    "admin": ["questionnaires.view_questionnaire", "questionnaires.change_questionnaire", "questionnaires.view_response"],
}
