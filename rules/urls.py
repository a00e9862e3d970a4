"""Pages of rules and lists, under /rules/."""

from django.urls import include, path

app_name = "rules"

urlpatterns = [
    path("lists/", include("rules.lists.urls")),
    path("", include("rules.policy.urls")),
]
