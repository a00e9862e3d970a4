from django.urls import path

from rules.policy import apis

urlpatterns = [
    path("rules", apis.RuleListCreateApi.as_view(), name="api-rule-list"),
    path("rules/<int:rule_id>/activate", apis.RuleActivateApi.as_view(), name="api-rule-activate"),
    path("rules/<int:rule_id>/disable", apis.RuleDisableApi.as_view(), name="api-rule-disable"),
]
