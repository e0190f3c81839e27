"""A version's BPMN as an HTTP download, shared by the export page and the API."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.text import slugify

from topology.bpmn.parse import encode_xml
from topology.models import TopologyVersion


def bpmn_response(version: TopologyVersion, *, attachment: bool) -> HttpResponse:
    """The stored XML exactly as saved; as a `<name>-v<n>.bpmn` attachment when `attachment`.

    Encoded as the XML declares, so a Latin-1 file goes out as the Latin-1 bytes it came in.
    """
    data, encoding = encode_xml(version.bpmn_xml)
    response = HttpResponse(data, content_type=f"application/xml; charset={encoding}")
    response["X-Content-Type-Options"] = "nosniff"
    if attachment:
        filename = f"{slugify(version.topology.name) or 'topology'}-v{version.number}.bpmn"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
