from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("drift/", views.drift, name="drift"),
    path("drift/<str:feature>/", views.drift_feature, name="drift_feature"),
]
