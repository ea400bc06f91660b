from django.urls import path  # noqa: F401 - the patient pages add their paths here

app_name = "patients"

urlpatterns: list = []

# --- value analysis, duplicates and merge (branch patients-value) -----------------------------------
from .urls_value import value_urlpatterns  # noqa: E402

urlpatterns += value_urlpatterns
