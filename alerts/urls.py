from django.urls import path

from alerts import views

app_name = "alerts"
urlpatterns = [
    path("bell/", views.bell, name="bell"),
    path("bell/seen/", views.bell_seen, name="bell-seen"),
    path("thresholds/", views.thresholds, name="thresholds"),
    path("audit.csv", views.audit_csv, name="audit-csv"),
]
