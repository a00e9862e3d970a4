"""Websocket routes of every app."""

from django.urls import path

from alerts.consumers import AlertBellConsumer
from detection.jobs.consumers import JobProgressConsumer
from review.consumers import ReviewQueueConsumer

websocket_urlpatterns: list = [
    path("ws/alerts/", AlertBellConsumer.as_asgi()),
    path("ws/review/", ReviewQueueConsumer.as_asgi()),
    path("ws/jobs/<int:job_id>/", JobProgressConsumer.as_asgi()),
]
