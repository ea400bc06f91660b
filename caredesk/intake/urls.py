from django.urls import path

from . import views

app_name = "intake"

urlpatterns = [
    path("", views.home, name="home"),
    path("import/", views.import_upload, name="import"),
    path("import/<int:run_id>/", views.import_run, name="import_run"),
    path("import/<int:run_id>/rejects.csv", views.import_rejects_csv, name="import_rejects_csv"),
    path("mappings/new/", views.mapping_new, name="mapping_new"),
]
