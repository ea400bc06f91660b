from django.urls import path

from . import views
from .urls_extra import urlpatterns as extra_urlpatterns

app_name = "complaints"

urlpatterns = [
    path("", views.complaint_list, name="list"),
    path("new/", views.complaint_new, name="new"),
    path("suggest/", views.suggest, name="suggest"),
    path("notices/", views.notices, name="notices"),
    path("settings/", views.settings_page, name="settings"),
    # praise, rectification, case library, bulletin, H5: before the "<case_no>/" catch-all below
    *extra_urlpatterns,
    path("<str:case_no>/", views.complaint_detail, name="detail"),
    path("<str:case_no>/do/<str:action>/", views.complaint_action, name="action"),
    path("<str:case_no>/attachments/", views.attachment_upload, name="attachment_upload"),
    path("<str:case_no>/attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
