"""URLs of praise, rectification, the case library, the bulletin and the patient H5 pages; added
to ``urls.py`` (same ``complaints:`` namespace)."""

from django.urls import path

from . import views_bulletin, views_cases, views_praise, views_public, views_rectification

urlpatterns = [
    path("praise/", views_praise.praise_list, name="praise_list"),
    path("praise/new/", views_praise.praise_create, name="praise_create"),
    path("praise/export.xlsx", views_praise.praise_export, name="praise_export"),
    path("bulletin/", views_bulletin.bulletin_page, name="bulletin"),
    path("bulletin/export.xlsx", views_bulletin.bulletin_xlsx, name="bulletin_xlsx"),
    path("bulletin/export.pdf", views_bulletin.bulletin_pdf, name="bulletin_pdf"),
    path("cases/", views_cases.case_library, name="case_library"),
    path("cases/review/", views_cases.case_review, name="case_review"),
    path("cases/draft/<int:complaint_id>/", views_cases.case_draft, name="case_draft"),
    path("cases/<int:pk>/", views_cases.case_detail, name="case_detail"),
    path("cases/<int:pk>/edit/", views_cases.case_edit, name="case_edit"),
    path("cases/<int:pk>/withdraw/", views_cases.case_withdraw, name="case_withdraw"),
    path("h5/", views_public.h5_home, name="h5_home"),
    path("h5/complaint/", views_public.h5_complaint, name="h5_complaint"),
    path("h5/praise/", views_public.h5_praise, name="h5_praise"),
    path("h5/done/", views_public.h5_done, name="h5_done"),
    path("h5/status/", views_public.h5_status, name="h5_status"),
    path("rectification/", views_rectification.rectification_list, name="rectification_list"),
    path("rectification/new/", views_rectification.rectification_create, name="rectification_create"),
    path("rectification/<int:pk>/", views_rectification.rectification_detail, name="rectification_detail"),
    path("rectification/<int:pk>/evidence/", views_rectification.rectification_evidence, name="rectification_evidence"),
    path("rectification/<int:pk>/verify/", views_rectification.rectification_verify, name="rectification_verify"),
    path("rectification/<int:pk>/evidence-file/", views_rectification.rectification_evidence_file, name="rectification_file"),
]
