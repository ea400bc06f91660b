"""Permissions this module adds to each role (merged into accounts.roles.ROLE_PERMISSIONS)."""

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "supervisor": ["textmining.change_dictionaryword", "textmining.change_themerule"],
    "admin": ["textmining.change_dictionaryword", "textmining.change_themerule"],
}
