from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from admin_ui.tenancy import tenant_required
from limiter.selectors import limit_list as select_limits


@tenant_required()
def limit_list(request: HttpRequest) -> HttpResponse:
    limits = select_limits(tenant=request.tenant)  # type: ignore[attr-defined]
    return render(request, "limiter/list.html", {"nav": "limits", "limits": limits})
