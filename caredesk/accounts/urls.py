from django.urls import path

from . import views, views_admin

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("otp/", views.otp_view, name="otp"),
    path("password/", views.password_view, name="password"),
    path("staff/", views_admin.staff_list, name="staff"),
    path("staff/new/", views_admin.staff_edit, name="staff_new"),
    path("staff/<int:pk>/", views_admin.staff_edit, name="staff_edit"),
    path("staff/<int:pk>/unlock/", views_admin.staff_unlock, name="staff_unlock"),
    path("departments/", views_admin.department_list, name="departments"),
    path("departments/new/", views_admin.department_edit, name="department_new"),
    path("departments/<int:pk>/", views_admin.department_edit, name="department_edit"),
]
