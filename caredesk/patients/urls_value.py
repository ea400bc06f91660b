"""URLs of the value analysis, duplicates and merge pages; appended to ``patients/urls.py``."""

from django.urls import path

from . import views_duplicates, views_value

value_urlpatterns = [
    path("value/", views_value.value_page, name="value"),
    path("value/segments/", views_value.segment_create, name="segment_create"),
    path("duplicates/", views_duplicates.duplicate_list, name="duplicates"),
    path("duplicates/merge/", views_duplicates.merge_screen, name="merge"),
]
