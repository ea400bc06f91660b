"""Password rules of the mlps3 (等保三级) profile: complexity and no reuse of recent passwords.
The asvs profile relies on length (12+) and the common-password list only."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class ComplexityValidator:
    """At least three of: lower case, upper case, digits, symbols."""

    def validate(self, password: str, user: Any = None) -> None:
        classes = [r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"]
        if sum(bool(re.search(c, password)) for c in classes) < 3:
            raise ValidationError(
                _("密码须至少包含大写字母、小写字母、数字、符号中的三类。"), code="password_not_complex"
            )

    def get_help_text(self) -> str:
        return _("至少包含大写字母、小写字母、数字、符号中的三类。")


class HistoryValidator:
    """The new password must differ from the last PASSWORD_HISTORY_COUNT passwords."""

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or not getattr(user, "pk", None):
            return
        count = settings.PASSWORD_HISTORY_COUNT
        # The last N passwords are the current one and the N-1 before it.
        recent = list(user.password_history.values_list("password", flat=True)[: count - 1])
        if user.password:
            recent.append(user.password)
        if any(check_password(password, old) for old in recent):
            raise ValidationError(
                _("不能使用最近 %(n)d 次用过的密码。") % {"n": count}, code="password_reused"
            )

    def get_help_text(self) -> str:
        return _("不能与最近 %(n)d 次的密码相同。") % {"n": settings.PASSWORD_HISTORY_COUNT}


# Django 5.2 reworded its validators' messages and its zh_Hans catalogue has not caught up, so the
# stock validators would answer in English. These keep Django's rules and give our own wording.


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    def get_error_message(self) -> str:
        return _("密码太短，至少需要 %(n)d 个字符。") % {"n": self.min_length}

    def get_help_text(self) -> str:
        return _("至少 %(n)d 个字符，可以是一句容易记住的话。") % {"n": self.min_length}


class UserAttributeSimilarityValidator(password_validation.UserAttributeSimilarityValidator):
    def get_error_message(self) -> str:
        return _("密码与您的用户名或姓名太相似。")

    def get_help_text(self) -> str:
        return _("不能与用户名、姓名太相似。")


class CommonPasswordValidator(password_validation.CommonPasswordValidator):
    def get_error_message(self) -> str:
        return _("这个密码太常见，容易被猜到。")

    def get_help_text(self) -> str:
        return _("不能是常见密码。")
