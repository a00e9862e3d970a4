"""Websocket routes of every app."""

from django.urls import path

from alerts.consumers import AlertBellConsumer
from review.consumers import ReviewQueueConsumer

websocket_urlpatterns: list = [
    path("ws/alerts/", AlertBellConsumer.as_asgi()),
    path("ws/review/", ReviewQueueConsumer.as_asgi()),
]
