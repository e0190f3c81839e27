from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from admin_ui.tenancy import tenant_required


@tenant_required()
def topology_list(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_ui/form_page.html", {"title": "Topologies", "nav": "topologies"})


@tenant_required()
def process_list(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_ui/form_page.html", {"title": "Processes", "nav": "processes"})
