# Websocket routes of live monitoring (ws/...); consumers live in topology/consumers.py.
websocket_urlpatterns: list = []
