from processes.routing import websocket_urlpatterns as processes_ws

websocket_urlpatterns = [*processes_ws]
