"""Websocket routes of live monitoring (ws/...), included by admin_ui/routing.py."""

from django.urls import path

from processes.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi(), name="ws_live"),
    path("ws/live/topologies/<int:topology_id>/", LiveConsumer.as_asgi(), name="ws_live_topology"),
]
