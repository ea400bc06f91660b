from django.urls import path, re_path

from . import views

app_name = "fhir"

urlpatterns = [
    path("Patient", views.patient_search, name="patient-search"),
    path("Patient/<int:pk>", views.patient_read, name="patient-read"),
    path("Encounter", views.encounter_search, name="encounter-search"),
    path("Encounter/<int:pk>", views.encounter_read, name="encounter-read"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="not-found"),
]
