"""Questionnaires, versions, items and responses: the engine shared by follow-up records and surveys."""
