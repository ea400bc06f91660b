from django.urls import path

from . import views

app_name = "followups"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("task/<int:pk>/", views.task_detail, name="task"),
    path("task/<int:pk>/dial/", views.task_dial, name="task-dial"),
    path("task/<int:pk>/attempt/", views.task_attempt, name="task-attempt"),
    path("task/<int:pk>/record/", views.task_record, name="task-record"),
    path("problem/<int:pk>/<str:kind>/", views.problem_action, name="problem-action"),
    path("supervise/", views.supervise, name="supervise"),
    path("supervise/reassign/", views.reassign, name="reassign"),
    path("supervise/assign/", views.assign_now, name="assign-now"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:pk>/ack/", views.alert_ack, name="alert-ack"),
    path("reports/", views.reports, name="reports"),
    path("reports/prepare/", views.report_prepare, name="report-prepare"),
    path("reports/<int:pk>/", views.report_detail, name="report"),
    path("reports/<int:pk>/submit/", views.report_submit, name="report-submit"),
    path("reports/<int:pk>/sign/", views.report_sign, name="report-sign"),
    path("reports/<int:pk>/xlsx/", views.report_xlsx, name="report-xlsx"),
    path("figures/", views.figures, name="figures"),
    path("templates/", views.templates, name="templates"),
    path("templates/<int:pk>/", views.template_edit, name="template-edit"),
]
