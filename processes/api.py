"""Process API: REST start by topology name, webhook intake, process list/detail, terminate."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from admin_ui.api_base import TenantApi
from admin_ui.api_errors import ErrorSerializer
from admin_ui.roles import Perm
from processes import selectors
from processes.filters import ProcessFilter
from processes.models import Process, ProcessEvent
from processes.services import process_terminate, topology_start


class ProcessOutputSerializer(serializers.ModelSerializer[Process]):
    topology = serializers.CharField(source="version.topology.name")
    version = serializers.IntegerField(source="version.number")

    class Meta:
        model = Process
        fields = [
            "id",
            "correlation_id",
            "topology",
            "version",
            "status",
            "started_at",
            "finished_at",
            "total",
            "done",
            "failed",
            "trashed",
            "duplicates",
        ]


class ProcessEventSerializer(serializers.ModelSerializer[ProcessEvent]):
    class Meta:
        model = ProcessEvent
        fields = ["node_key", "message_id", "result_code", "result_message", "started_at", "duration_ms", "emitted"]


class ProcessDetailSerializer(ProcessOutputSerializer):
    events = ProcessEventSerializer(many=True)

    class Meta(ProcessOutputSerializer.Meta):
        fields = [*ProcessOutputSerializer.Meta.fields, "events"]


StartedSerializer = inline_serializer(
    "ProcessStarted",
    {
        "correlation_id": serializers.CharField(),
        "status": serializers.CharField(),
    },
)

START_BODY = {
    "application/json": {
        "type": "object",
        "additionalProperties": True,
        "description": "The payload of the first message: a JSON object (an empty body means {}).",
    }
}
# A start is refused when the topology or node is unknown (404), not startable (409), the payload is too large
# (413) or the broker is down (503); nothing is published then.
START_REFUSALS = {
    404: ErrorSerializer,
    409: ErrorSerializer,
    413: ErrorSerializer,
    503: ErrorSerializer,
}


# Token callers are served by the lane in `processes.api_lane` (the same answers, on the event loop).
START_URL_NAME = "api_topology_start"
START_PERM = Perm.OPERATE


class TopologyStartApi(TenantApi):
    """POST the JSON payload as the request body; answers 202 with the correlation id."""

    required_perm = START_PERM

    @extend_schema(
        request=START_BODY,
        responses={202: StartedSerializer, **START_REFUSALS},
        parameters=[OpenApiParameter("node", str, description="start node key when the topology has several")],
    )
    def post(self, request: Request, name: str) -> Response:
        # The raw body, not request.data: the payload travels byte for byte as the message body.
        process = topology_start(
            tenant=self.tenant,
            name=name,
            body=request.body,
            actor=self.actor,
            node_key=request.query_params.get("node") or None,
        )
        return Response(
            # No row id: the recorder writes the Process row from the start's events, just after this answer.
            {"correlation_id": process.correlation_id, "status": process.status},
            status=status.HTTP_202_ACCEPTED,
        )


def document_webhook_intake(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """OpenAPI postprocessing hook: the webhook intake is a plain async view (`processes.hooks`), which the schema
    generator does not see; document it as the API's own start is."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, "description": ""}
    result["components"]["schemas"]["WebhookStarted"] = {
        "type": "object",
        "properties": {"correlation_id": {"type": "string"}, "status": {"type": "string"}},
        "required": ["correlation_id", "status"],
    }
    started = {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookStarted"}}}
    result["paths"]["/hooks/{token}"] = {
        "post": {
            "operationId": "hooks_create",
            "description": "Public webhook intake: the token in the URL is the credential; answers 202 with the "
            "correlation id once RabbitMQ has confirmed the start.",
            "parameters": [{"in": "path", "name": "token", "schema": {"type": "string"}, "required": True}],
            "tags": ["hooks"],
            "requestBody": {"content": {media: {"schema": schema} for media, schema in START_BODY.items()}},
            "responses": {
                "202": {"content": started, "description": ""},
                **{str(code): error for code in (400, 401, 404, 409, 413, 415, 503)},
            },
            "security": [{}],
        }
    }
    return result


class ProcessListApi(TenantApi, generics.ListAPIView):
    """The tenant's processes, newest first, filtered like the process page; limit/offset paginated."""

    required_perm = Perm.VIEW
    serializer_class = ProcessOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProcessFilter

    def get_queryset(self) -> QuerySet[Process]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no tenant
            return Process.objects.none()
        return selectors.process_list(tenant=self.tenant)


class ProcessDetailApi(TenantApi):
    required_perm = Perm.VIEW

    @extend_schema(responses=ProcessDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        process = selectors.process_get(tenant=self.tenant, pk=pk)
        data: dict[str, Any] = dict(ProcessOutputSerializer(process).data)
        data["events"] = ProcessEventSerializer(selectors.process_timeline(process=process), many=True).data
        return Response(data)


class ProcessTerminateApi(TenantApi):
    required_perm = Perm.OPERATE

    @extend_schema(request=None, responses={200: ProcessOutputSerializer, 409: ErrorSerializer})
    def post(self, request: Request, pk: int) -> Response:
        process = process_terminate(process=selectors.process_get(tenant=self.tenant, pk=pk), actor=self.actor)
        return Response(ProcessOutputSerializer(process).data)
