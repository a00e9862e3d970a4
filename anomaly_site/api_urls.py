"""Everything under /api/v1/: the partner-facing DRF endpoints (transactions, labels, jobs)."""

from django.urls import include, path

urlpatterns = [
    path("", include("detection.api_urls")),
]
