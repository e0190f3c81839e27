# Websocket routes of live monitoring (ws/...); the consumers they name live in processes/consumers.py.
websocket_urlpatterns: list = []
