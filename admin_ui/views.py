from __future__ import annotations

from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.defaults import page_not_found


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    if getattr(request, "tenant", None) is None:
        return redirect("tenant_create")
    return redirect("topology_list")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 page; under /api/ the API's JSON error shape, so clients never parse Django's HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "errors": {}}, status=404)
    return page_not_found(request, exception or Http404())


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
