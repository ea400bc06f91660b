from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("otp/", views.otp_view, name="otp"),
    path("password/", views.password_view, name="password"),
]
