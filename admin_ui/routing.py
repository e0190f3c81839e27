from processes.routing import webhook_lane
from processes.routing import websocket_urlpatterns as processes_ws

websocket_urlpatterns = [*processes_ws]
# HTTP requests pass these lanes before Django's handler (`admin_ui/asgi.py`).
http_lanes = [webhook_lane]
