from processes.routing import websocket_urlpatterns as processes_ws
from topology.routing import websocket_urlpatterns as topology_ws

websocket_urlpatterns = [*topology_ws, *processes_ws]
