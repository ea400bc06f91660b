"""Staff and department administration for the `admin` role (accounts.manage_staff)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import actions
from .forms import DepartmentForm, StaffForm
from .models import Department, User

manage_staff = permission_required("accounts.manage_staff", raise_exception=True)


@login_required
@manage_staff
def staff_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    users = User.objects.order_by("username").prefetch_related(
        "groups", Prefetch("departments", queryset=Department.objects.only("id", "name"))
    )
    if q:
        users = users.filter(Q(username__icontains=q) | Q(display_name__icontains=q) | Q(employee_no__icontains=q))
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    template = "accounts/staff_list.html#rows" if request.htmx else "accounts/staff_list.html"  # type: ignore[attr-defined]
    return render(request, template, {"page": page, "q": q})


@login_required
@manage_staff
def staff_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = get_object_or_404(User, pk=pk) if pk else None
    initial: dict[str, Any] = {}
    if user is not None:
        initial = {"username": user.username, "display_name": user.display_name, "employee_no": user.employee_no,
                   "roles": user.role_codes, "departments": list(user.departments.all()), "is_active": user.is_active}
    form = StaffForm(request.POST or None, instance=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if user is None:
            user = actions.create_staff(
                username=data["username"], password=data["password"], display_name=data["display_name"],
                roles=data["roles"], departments=list(data["departments"]), employee_no=data["employee_no"],
                acting_user=request.user,
            )
            messages.success(request, _("已新建员工 %(name)s。") % {"name": user.display_name})
        else:
            actions.update_staff(
                user, display_name=data["display_name"], employee_no=data["employee_no"], roles=data["roles"],
                departments=list(data["departments"]), is_active=data["is_active"], acting_user=request.user,
            )
            if data["password"]:
                actions.reset_password(user, data["password"], acting_user=request.user)
            messages.success(request, _("已保存员工 %(name)s。") % {"name": user.display_name})
        return redirect("accounts:staff")
    return render(request, "accounts/staff_form.html", {"form": form, "staff": user}, status=422 if form.errors else 200)


@require_POST
@login_required
@manage_staff
def staff_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    actions.unlock_staff(user, acting_user=request.user)
    messages.success(request, _("已解除 %(name)s 的登录锁定。") % {"name": user.display_name or user.username})
    return redirect("accounts:staff_edit", pk=user.pk)


@login_required
@manage_staff
def department_list(request: HttpRequest) -> HttpResponse:
    departments = list(Department.objects.order_by("sort_order", "code"))
    children: dict[int | None, list[Department]] = {}
    for dept in departments:
        children.setdefault(dept.parent_id, []).append(dept)
    rows: list[tuple[int, Department]] = []

    def walk(parent: int | None, depth: int) -> None:
        for dept in children.get(parent, []):
            rows.append((depth, dept))
            walk(dept.pk, depth + 1)

    walk(None, 0)
    return render(request, "accounts/department_list.html", {"rows": rows})


@login_required
@manage_staff
def department_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    dept = get_object_or_404(Department, pk=pk) if pk else None
    initial = {}
    if dept is not None:
        initial = {"code": dept.code, "name": dept.name, "kind": dept.kind, "parent": dept.parent,
                   "sort_order": dept.sort_order, "is_active": dept.is_active}
    form = DepartmentForm(request.POST or None, instance=dept, initial=initial)
    if request.method == "POST" and form.is_valid():
        actions.save_department(dept, acting_user=request.user, **form.cleaned_data)
        messages.success(request, _("科室已保存。"))
        return redirect("accounts:departments")
    return render(request, "accounts/department_form.html", {"form": form, "dept": dept}, status=422 if form.errors else 200)
