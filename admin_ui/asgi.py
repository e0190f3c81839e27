import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "admin_ui.settings")
django_asgi_app = get_asgi_application()

from admin_ui.checks import refuse_development_keys  # noqa: E402

refuse_development_keys()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from admin_ui.routing import http_lanes, websocket_urlpatterns  # noqa: E402

http_app: Any = django_asgi_app
for lane in http_lanes:
    http_app = lane(http_app)

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
