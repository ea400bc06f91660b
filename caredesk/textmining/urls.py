from django.urls import path

from . import views

app_name = "textmining"

urlpatterns = [
    path("dictionary/", views.dictionary, name="dictionary"),
    path("themes/", views.theme_rules, name="themes"),
]
