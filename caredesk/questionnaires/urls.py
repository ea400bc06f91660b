from django.urls import path

from . import views

app_name = "questionnaires"

urlpatterns = [
    path("", views.questionnaire_list, name="list"),
    path("new/", views.questionnaire_create, name="create"),
    path("dimensions/", views.dimension_list, name="dimensions"),
    path("dimensions/<int:dimension_id>/", views.dimension_edit, name="dimension-edit"),
    path("<int:pk>/", views.questionnaire_detail, name="detail"),
    path("<int:pk>/v<int:number>/", views.questionnaire_detail, name="version"),
    # builder
    path("<int:pk>/build/", views.questionnaire_build, name="build"),
    path("<int:pk>/draft/", views.draft_create, name="draft"),
    path("<int:pk>/v<int:number>/edit/", views.version_edit, name="edit"),
    path("<int:pk>/v<int:number>/publish/", views.version_publish, name="publish"),
    path("<int:pk>/v<int:number>/sections/add/", views.section_add, name="section-add"),
    path("<int:pk>/v<int:number>/items/add/", views.item_add, name="item-add"),
    path("sections/<int:section_id>/<str:action>/", views.section_change, name="section-change"),
    path("items/<int:item_id>/edit/", views.item_edit, name="item-edit"),
    path("items/<int:item_id>/<str:action>/", views.item_change, name="item-change"),
]
