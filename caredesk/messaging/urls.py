from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("callback/sms/", views.sms_delivery_callback, name="sms_callback"),
]
