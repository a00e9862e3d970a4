from django.conf import settings
from django.urls import path

from detection.jobs import apis as job_apis
from detection.scoring import apis

urlpatterns = [
    path("transactions/score", apis.TransactionScoreApi.as_view(), name="api-transaction-score"),
    path("transactions/score/batch", apis.TransactionScoreBatchApi.as_view(), name="api-transaction-score-batch"),
    path("transactions", apis.TransactionListApi.as_view(), name="api-transaction-list"),
    path("transactions/<str:transaction_id>", apis.TransactionDetailApi.as_view(), name="api-transaction-detail"),
    path("transactions/<str:transaction_id>/label", apis.TransactionLabelApi.as_view(), name="api-transaction-label"),
    path("labels", apis.LabelBulkApi.as_view(), name="api-label-bulk"),
    path("jobs", job_apis.ScoringJobCreateApi.as_view(), name="api-job-create"),
    path("jobs/<int:job_id>", job_apis.ScoringJobDetailApi.as_view(), name="api-job-detail"),
    path("jobs/<int:job_id>/result.csv", job_apis.ScoringJobResultApi.as_view(), name="api-job-result"),
]

if settings.BENCH_ENDPOINTS:  # the benchmarks' floor (detection/scoring/floor.py); never routed otherwise
    from detection.scoring import floor

    urlpatterns += [
        path("bench/floor/score", floor.FloorScoreApi.as_view(), name="api-bench-floor"),
        path("bench/floor/score/batch", floor.FloorScoreBatchApi.as_view(), name="api-bench-floor-batch"),
    ]
