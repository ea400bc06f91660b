"""JSON API routes of this module, mounted under /api/v1/ by caredesk.api.main."""

from ninja import Router

router = Router(tags=["surveys"])
