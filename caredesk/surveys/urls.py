from django.urls import path

from . import views, views_public, views_stats

app_name = "surveys"

urlpatterns = [
    path("", views.home, name="home"),
    path("stats/", views_stats.dashboard, name="stats"),
    path("stats/export.xlsx", views_stats.export, name="stats_export"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_edit, name="rule_new"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("invitations/", views.invitation_list, name="invitations"),
    path("board/", views.board, name="board"),
    path("feedback/<int:pk>/", views.feedback_detail, name="feedback_detail"),
    path("qr/", views.qr_list, name="qr_list"),
    path("qr/<int:pk>/poster/", views.qr_poster, name="qr_poster"),
    path("qr/<int:pk>/toggle/", views.qr_toggle, name="qr_toggle"),
    path("phone/<int:patient_pk>/", views.phone_start, name="phone_start"),
    path("phone/r/<int:pk>/", views.phone_response, name="phone_response"),
    # patients, no login
    path("a/<str:token>/", views_public.answer, name="answer"),
    path("a/<str:token>/thanks/", views_public.thanks, name="thanks"),
    path("o/<str:token>/", views_public.optout, name="optout"),
    path("q/<str:token>/", views_public.qr_answer, name="qr_answer"),
    path("q/<str:token>/thanks/", views_public.qr_thanks, name="qr_thanks"),
]
