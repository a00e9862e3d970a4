"""Everything under /api/v1/: partner-facing DRF endpoints, one module per app."""

from django.urls import include, path

urlpatterns = [
    path("", include("transactions.api_urls")),
    path("", include("detection.api_urls")),
]
