from django.urls import include, path

from caredesk.api.main import api
from caredesk.core import views as core_views

handler403 = "caredesk.core.views.error_403"
handler404 = "caredesk.core.views.error_404"
handler500 = "caredesk.core.views.error_500"

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("caredesk.accounts.urls")),
    path("api/v1/", api.urls),
    path("fhir/", include("caredesk.api.fhir.urls")),
    path("messaging/", include("caredesk.messaging.urls")),
    path("patients/", include("caredesk.patients.urls")),
    path("intake/", include("caredesk.intake.urls")),
    path("questionnaires/", include("caredesk.questionnaires.urls")),
    path("followups/", include("caredesk.followups.urls")),
    path("complaints/", include("caredesk.complaints.urls")),
    path("surveys/", include("caredesk.surveys.urls")),
    path("textmining/", include("caredesk.textmining.urls")),
    path("", include("caredesk.core.urls")),
]
