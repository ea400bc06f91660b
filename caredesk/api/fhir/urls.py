from django.urls import path, re_path

from caredesk.followups import fhir as followups_fhir
from caredesk.questionnaires import fhir as questionnaire_fhir

from . import views

app_name = "fhir"

urlpatterns = [
    path("Patient", views.patient_search, name="patient-search"),
    path("Patient/<int:pk>", views.patient_read, name="patient-read"),
    path("Encounter", views.encounter_search, name="encounter-search"),
    path("Encounter/<int:pk>", views.encounter_read, name="encounter-read"),
    path("Questionnaire", questionnaire_fhir.questionnaire_search, name="questionnaire-search"),
    path("Questionnaire/<str:ref>", questionnaire_fhir.questionnaire_read, name="questionnaire-read"),
    path("QuestionnaireResponse", questionnaire_fhir.response_search, name="questionnaireresponse-search"),
    path("QuestionnaireResponse/<int:pk>", questionnaire_fhir.response_read, name="questionnaireresponse-read"),
    path("Task", followups_fhir.task_search, name="task-search"),
    path("Task/<int:pk>", followups_fhir.task_read, name="task-read"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="not-found"),
]
