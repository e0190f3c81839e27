from processes.routing import rest_start_lane, webhook_lane
from processes.routing import websocket_urlpatterns as processes_ws

websocket_urlpatterns = [*processes_ws]
# HTTP requests pass these lanes before Django's handler (`admin_ui/asgi.py`; `admin_ui/lanes.py` says why).
http_lanes = [webhook_lane, rest_start_lane]
