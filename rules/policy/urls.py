from django.urls import path

from rules.policy import views

urlpatterns = [
    path("", views.rule_index, name="index"),
    path("new/", views.rule_new, name="new"),
    path("check/", views.rule_check, name="check"),
    path("<int:rule_id>/", views.rule_detail, name="detail"),
    path("<int:rule_id>/edit/", views.rule_edit, name="edit"),
    path("<int:rule_id>/publish/", views.rule_publish, name="publish"),
    path("<int:rule_id>/disable/", views.rule_disable, name="disable"),
    path("<int:rule_id>/tests/", views.rule_test_start, name="test_start"),
    path("tests/<int:test_id>/", views.rule_test_detail, name="test"),
]
