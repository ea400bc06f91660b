from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("audit/", views.audit_list, name="audit"),
    path("calendar/", views.calendar, name="calendar"),
    path("pii/reveal/<str:label>/<int:pk>/<str:field>/", views.reveal, name="reveal"),
]
