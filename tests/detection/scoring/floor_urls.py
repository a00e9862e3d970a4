"""The site's URLs with the benchmarks' floor routed, as BENCH_ENDPOINTS=1 routes it."""

from django.urls import include, path

from detection.scoring import floor

urlpatterns = [
    path("api/v1/bench/floor/score", floor.FloorScoreApi.as_view()),
    path("api/v1/bench/floor/score/batch", floor.FloorScoreBatchApi.as_view()),
    path("", include("anomaly_site.urls")),
]
