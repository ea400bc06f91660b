from django.urls import path

from . import views, views_hl7

app_name = "intake"

urlpatterns = [
    path("", views.home, name="home"),
    path("import/", views.import_upload, name="import"),
    path("import/<int:run_id>/", views.import_run, name="import_run"),
    path("import/<int:run_id>/rejects.csv", views.import_rejects_csv, name="import_rejects_csv"),
    path("mappings/new/", views.mapping_new, name="mapping_new"),
    path("messages/", views_hl7.message_list, name="messages"),
    path("messages/<int:pk>/replay/", views_hl7.message_replay, name="message_replay"),
]
