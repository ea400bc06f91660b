from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from .models import Department, User
from .roles import ROLES


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("用户名"), max_length=150, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"})
    )
    password = forms.CharField(label=_("密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    error_messages = {
        "invalid_login": _("用户名或密码不正确。请注意大小写。"),
        "inactive": _("该账号已停用，请联系系统管理员。"),
    }


class OTPForm(forms.Form):
    token = forms.RegexField(
        label=_("动态验证码"), regex=r"^\d{6}$", max_length=6,
        error_messages={"invalid": _("请输入 6 位数字验证码。"), "required": _("请输入验证码。")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


NEW_PASSWORD = {"autocomplete": "new-password"}


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("当前密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password1 = forms.CharField(label=_("新密码"), strip=False, widget=forms.PasswordInput(attrs=NEW_PASSWORD))
    new_password2 = forms.CharField(label=_("再次输入新密码"), strip=False, widget=forms.PasswordInput(attrs=NEW_PASSWORD))

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = password_validation.password_validators_help_text_html()

    def clean_old_password(self) -> str:
        old = self.cleaned_data["old_password"]
        if not self.user.check_password(old):
            raise forms.ValidationError(_("当前密码不正确。"))
        return old

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        p1, p2 = data.get("new_password1"), data.get("new_password2")
        if p1 and p2 and p1 != p2:
            self.add_error("new_password2", _("两次输入的新密码不一致。"))
        elif p1:
            try:
                password_validation.validate_password(p1, self.user)
            except forms.ValidationError as exc:
                self.add_error("new_password1", exc)
        return data


class StaffForm(forms.Form):
    username = forms.RegexField(
        label=_("用户名"), regex=r"^[A-Za-z0-9_.-]{3,40}$", max_length=40,
        error_messages={"invalid": _("用户名只能包含字母、数字和 _ . -，3 到 40 个字符。")},
    )
    display_name = forms.CharField(label=_("姓名"), max_length=50)
    employee_no = forms.CharField(label=_("工号"), max_length=32, required=False)
    roles = forms.MultipleChoiceField(label=_("角色"), required=False, widget=forms.CheckboxSelectMultiple)
    departments: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        label=_("所属科室"), queryset=Department.objects.none(), widget=forms.SelectMultiple(attrs={"size": 8}),
        error_messages={"required": _("请至少选择一个科室。")},
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)
    password = forms.CharField(
        label=_("初始密码"), required=False, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("新建员工必填；编辑时留空表示不修改。"),
    )

    def __init__(self, *args: Any, instance: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = instance
        cast(forms.MultipleChoiceField, self.fields["roles"]).choices = list(ROLES.items())
        cast(forms.ModelMultipleChoiceField, self.fields["departments"]).queryset = Department.objects.filter(is_active=True)
        if instance is not None:
            self.fields["username"].disabled = True

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if self.instance is None and User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("该用户名已被使用。"))
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password = data.get("password")
        if self.instance is None and not password:
            self.add_error("password", _("新建员工必须设置初始密码。"))
        elif password:
            try:
                password_validation.validate_password(password, self.instance)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class DepartmentForm(forms.Form):
    code = forms.RegexField(label=_("编码"), regex=r"^[A-Za-z0-9_-]{1,32}$",
                            error_messages={"invalid": _("编码只能包含字母、数字、- 和 _。")})
    name = forms.CharField(label=_("名称"), max_length=64)
    kind = forms.ChoiceField(label=_("类别"))
    parent: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("上级科室"), queryset=Department.objects.none(), required=False, empty_label=_("（无，顶级科室）")
    )
    sort_order = forms.IntegerField(label=_("排序"), min_value=0, initial=0)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args: Any, instance: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = instance
        cast(forms.ChoiceField, self.fields["kind"]).choices = Department.Kind.choices
        parents = Department.objects.all()
        if instance is not None:
            parents = parents.exclude(pk__in=instance.descendant_ids())
        cast(forms.ModelChoiceField, self.fields["parent"]).queryset = parents

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        clash = Department.objects.filter(code=code)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("该编码已被其他科室使用。"))
        return code
