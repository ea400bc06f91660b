from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredesk.surveys"
    verbose_name = _("满意度调查")

    def ready(self) -> None:
        from caredesk.accounts.models import Department
        from caredesk.questionnaires.models import Questionnaire, QuestionnaireVersion

        from .distribution import RULES
        from .models import SurveyRule

        RULES.watch(SurveyRule, SurveyRule.departments.through, Questionnaire, QuestionnaireVersion, Department)
