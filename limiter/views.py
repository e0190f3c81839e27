from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from admin_ui.tenancy import tenant_required


@tenant_required()
def limit_list(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_ui/form_page.html", {"title": "Limits", "nav": "limits"})
