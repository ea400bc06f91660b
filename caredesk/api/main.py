"""The JSON API under /api/v1/. Domain routers are added here as the modules arrive."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema

from caredesk.accounts.models import Department
from caredesk.complaints.api import router as complaints_router
from caredesk.followups.api import router as followups_router
from caredesk.surveys.api import router as surveys_router

from . import errors
from .auth import API_AUTH

api = NinjaAPI(
    title="CareDesk API",
    version="1",
    description="患者服务中心系统接口。会话（浏览器）或 Bearer 令牌（集成系统）认证。",
    auth=API_AUTH,
    urls_namespace="api",
)
errors.install(api)
api.add_router("/complaints", complaints_router)
api.add_router("/followups", followups_router)
api.add_router("/surveys", surveys_router)


class MeOut(Schema):
    username: str
    display_name: str
    roles: list[str]
    departments: list[str]


@api.get("/me", response=MeOut, tags=["accounts"], summary="The authenticated staff member")
def me(request: HttpRequest) -> MeOut:
    user = request.user
    return MeOut(
        username=user.username,
        display_name=user.display_name,  # type: ignore[union-attr]
        roles=user.role_codes,  # type: ignore[union-attr]
        departments=[d.code for d in user.departments.all()],  # type: ignore[union-attr]
    )


class DepartmentOut(Schema):
    id: int
    code: str
    name: str
    kind: Department.Kind
    parent_code: str | None


@api.get("/departments", response=list[DepartmentOut], tags=["accounts"], summary="Departments (科室)")
def departments(request: HttpRequest, kind: Department.Kind | None = None) -> list[DepartmentOut]:
    qs = Department.objects.filter(is_active=True).select_related("parent")
    if kind:
        qs = qs.filter(kind=kind)
    return [
        DepartmentOut(id=d.pk, code=d.code, name=d.name, kind=Department.Kind(d.kind),
                      parent_code=d.parent.code if d.parent else None)
        for d in qs
    ]
