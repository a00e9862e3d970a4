"""Everything under /api/v1/: the partner-facing DRF endpoints (transactions, labels, jobs, rules and lists)."""

from django.urls import include, path

urlpatterns = [
    path("", include("detection.api_urls")),
    path("", include("rules.api_urls")),
]
