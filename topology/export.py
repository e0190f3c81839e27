"""A version's BPMN as an HTTP download, shared by the export page and the API."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.text import slugify

from topology.models import TopologyVersion


def bpmn_response(version: TopologyVersion, *, attachment: bool) -> HttpResponse:
    """The stored XML exactly as saved; as a `<name>-v<n>.bpmn` attachment when `attachment`."""
    response = HttpResponse(version.bpmn_xml, content_type="application/xml; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    if attachment:
        filename = f"{slugify(version.topology.name) or 'topology'}-v{version.number}.bpmn"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
