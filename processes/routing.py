"""Websocket routes of live monitoring (ws/...) and the lanes in front of Django's HTTP handler (the webhook intake,
the REST start of API tokens), wired in by admin_ui/routing.py."""

from django.urls import path

from processes.api_lane import rest_start_lane
from processes.consumers import LiveConsumer
from processes.hooks import webhook_lane

__all__ = ["rest_start_lane", "webhook_lane", "websocket_urlpatterns"]

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi(), name="ws_live"),
    path("ws/live/topologies/<int:topology_id>/", LiveConsumer.as_asgi(), name="ws_live_topology"),
]
