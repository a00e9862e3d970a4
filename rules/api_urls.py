"""The partner API of rules (`/api/v1/rules`, scope `rules`) and lists (`/api/v1/lists`, scope `lists`)."""

from django.urls import include, path

urlpatterns = [
    path("", include("rules.lists.api_urls")),
    path("", include("rules.policy.api_urls")),
]
