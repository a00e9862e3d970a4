from django.urls import path

from detection import apis

urlpatterns = [
    path("jobs", apis.ScoringJobCreateApi.as_view(), name="api-job-create"),
    path("jobs/<int:job_id>", apis.ScoringJobDetailApi.as_view(), name="api-job-detail"),
    path("jobs/<int:job_id>/result.csv", apis.ScoringJobResultApi.as_view(), name="api-job-result"),
]
