"""Permissions for praise, rectification, the case library and the monthly bulletin, per role
(merged into accounts.roles like ``roles.py``; kept apart so the two halves of the module do not
edit the same file)."""

from __future__ import annotations

_CASE_READERS = ["complaints.view_casestudy"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "agent": ["complaints.add_praise", "complaints.view_praise", *_CASE_READERS],
    "consultant": _CASE_READERS,
    "guide": ["complaints.add_praise", "complaints.view_praise", *_CASE_READERS],
    "dept_head": [
        "complaints.view_praise",
        "complaints.view_bulletin",
        "complaints.view_rectificationitem",
        "complaints.add_rectificationitem",
        *_CASE_READERS,
    ],
    "quality": [
        "complaints.view_praise",
        "complaints.view_bulletin",
        "complaints.view_rectificationitem",
        "complaints.add_rectificationitem",
        "complaints.verify_rectificationitem",
        "complaints.add_casestudy",
        "complaints.publish_casestudy",
        *_CASE_READERS,
    ],
    "supervisor": [
        "complaints.add_praise",
        "complaints.view_praise",
        "complaints.view_bulletin",
        "complaints.view_rectificationitem",
        "complaints.add_rectificationitem",
        "complaints.verify_rectificationitem",
        "complaints.add_casestudy",
        "complaints.publish_casestudy",
        *_CASE_READERS,
    ],
    "executive": [
        "complaints.view_praise",
        "complaints.view_bulletin",
        "complaints.view_rectificationitem",
        *_CASE_READERS,
    ],
}
