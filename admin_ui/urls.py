from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from admin_ui import views

api_patterns: list[URLPattern | URLResolver] = [
    path("", include("admin_ui.api_urls")),
    path("", include("topology.api_urls")),
    path("", include("processes.api_urls")),
    path("", include("trash.api_urls")),
    path("", include("limiter.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

handler404 = views.not_found

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("admin_ui.page_urls")),
    path("", include("topology.urls")),
    path("", include("processes.urls")),
    path("trash/", include("trash.urls")),
    path("limits/", include("limiter.urls")),
    path("api/", include(api_patterns)),
    path("django-admin/", admin.site.urls),
]
