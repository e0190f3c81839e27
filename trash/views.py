"""Trash pages: what failed, where, and why."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from admin_ui.roles import Perm
from admin_ui.tenancy import tenant_required
from topology.selectors import topology_list
from trash import selectors
from trash.models import TrashMessage

FILTER_KEYS = ("status", "topology", "node", "signature", "q")


@tenant_required(Perm.VIEW)
def trash_list(request: HttpRequest) -> HttpResponse:
    filters = {key: request.GET.get(key, "open" if key == "status" else "") for key in FILTER_KEYS}
    grouped = request.GET.get("view") == "groups"
    if grouped:
        rows = selectors.trash_group_list(tenant=request.tenant, filters=filters)  # type: ignore[attr-defined]
    else:
        rows = selectors.trash_message_list(tenant=request.tenant, filters=filters)  # type: ignore[attr-defined]
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "trash/list.html",
        {
            "nav": "trash",
            "page_obj": page,
            "grouped": grouped,
            "filters": filters,
            "statuses": TrashMessage.Status.choices,
            "topologies": topology_list(tenant=request.tenant),  # type: ignore[attr-defined]
        },
    )


@tenant_required(Perm.VIEW)
def trash_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = selectors.trash_message_get(tenant=request.tenant, pk=pk)  # type: ignore[attr-defined]
    try:
        body = json.dumps(json.loads(message.body), indent=2, ensure_ascii=False)
    except ValueError:
        body = message.body
    return render(request, "trash/detail.html", {"nav": "trash", "message": message, "pretty_body": body})
