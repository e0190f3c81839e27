from processes.routing import websocket_urlpatterns as topology_ws

websocket_urlpatterns = [*topology_ws]
