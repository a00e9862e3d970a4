from django.urls import path

from detection.backtests import views as backtests
from detection.jobs import views as uploads
from detection.performance import views
from detection.trying import views as trying
from detection.versions import views as versions

app_name = "detection"
urlpatterns = [
    path("performance/", views.performance, name="performance"),
    path("performance/explore/", views.threshold_explore, name="threshold_explore"),
    path("performance/threshold/", views.threshold_save, name="threshold_save"),
    path("uploads/", uploads.upload_index, name="uploads"),
    path("uploads/<str:key>/map/", uploads.upload_map, name="upload_map"),
    path("uploads/jobs/<int:pk>/", uploads.upload_job, name="upload_job"),
    path("uploads/jobs/<int:pk>/progress/", uploads.upload_job_progress, name="upload_job_progress"),
    path("uploads/jobs/<int:pk>/result.csv", uploads.upload_job_result, name="upload_job_result"),
    path("uploads/jobs/<int:pk>/analysis/", uploads.upload_job_analysis, name="upload_job_analysis"),
    path("uploads/jobs/<int:pk>/analysis.csv", uploads.upload_job_analysis_csv, name="upload_job_analysis_csv"),
    path("backtests/", backtests.backtest_index, name="backtests"),
    path("backtests/<str:key>/setup/", backtests.backtest_setup, name="backtest_setup"),
    path("backtests/runs/<int:pk>/", backtests.backtest_detail, name="backtest"),
    path("try/", trying.try_page, name="try"),
    path("try/accounts/", trying.try_accounts, name="try_accounts"),
    path("versions/<int:pk>/compare/", versions.version_compare, name="version_compare"),
    path("versions/<int:pk>/activate/", versions.version_activate, name="version_activate"),
    path("versions/<int:pk>/challenge/", versions.version_challenge, name="version_challenge"),
    path("versions/<int:pk>/challenge/end/", versions.version_challenge_end, name="version_challenge_end"),
    path("versions/<int:pk>/promote/", versions.version_promote, name="version_promote"),
]
