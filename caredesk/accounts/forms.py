from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


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
