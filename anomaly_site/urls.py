from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views
from anomaly_site import views
from core.metrics import metrics_view

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/organisation/", account_views.organisation_switch, name="organisation_switch"),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script), as the Content-Security-Policy asks.
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("anomaly_site.api_urls")),
    path("transactions/", include("transactions.urls")),
    path("detection/", include("detection.urls")),
    path("rules/", include("rules.urls")),
    path("review/", include("review.urls")),
    path("alerts/", include("alerts.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("search/", include("search.urls")),
]

handler404 = "core.api_errors.handler404"
handler500 = "core.api_errors.handler500"
