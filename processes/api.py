"""Process API: REST start by topology name, process list/detail, terminate."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from admin_ui.authentication import TenantPermission, request_tenant
from admin_ui.roles import Perm
from processes import selectors
from processes.models import Process, ProcessEvent
from processes.services import StartError, process_terminate, topology_start


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
        "process": serializers.IntegerField(),
        "status": serializers.CharField(),
    },
)


def _error(exc: StartError) -> Response:
    return Response({"detail": exc.detail, "errors": exc.errors or {}}, status=exc.status)


class TopologyStartApi(APIView):
    """POST the JSON payload as the request body; answers 202 with the correlation id."""

    permission_classes = [IsAuthenticated, TenantPermission]
    required_perm = Perm.OPERATE

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        responses={202: StartedSerializer},
        parameters=[OpenApiParameter("node", str, description="start node key when the topology has several")],
    )
    def post(self, request: Request, name: str) -> Response:
        node = request.query_params.get("node") or None
        try:
            process = topology_start(
                tenant=request_tenant(request),
                name=name,
                body=request.body,
                actor=request.user if getattr(request.user, "pk", None) else None,
                node_key=node,
            )
        except StartError as exc:
            return _error(exc)
        return Response(
            {"correlation_id": process.correlation_id, "process": process.pk, "status": process.status},
            status=status.HTTP_202_ACCEPTED,
        )


class ProcessListApi(APIView):
    permission_classes = [IsAuthenticated, TenantPermission]
    required_perm = Perm.VIEW

    @extend_schema(
        responses=ProcessOutputSerializer(many=True),
        parameters=[
            OpenApiParameter("topology", int),
            OpenApiParameter("status", str, enum=[s.value for s in Process.Status]),
            OpenApiParameter("range", str, description="time range, e.g. 1h, 24h, 7d"),
        ],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        topology = params.get("topology", "")
        qs = selectors.process_list(
            tenant=request_tenant(request),
            topology_id=int(topology) if topology.isdigit() else None,
            status=params.get("status", ""),
            since=selectors.range_start(params.get("range", "")),
        )
        paginator = LimitOffsetPagination()
        page: Any = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ProcessOutputSerializer(page, many=True).data)


class ProcessDetailApi(APIView):
    permission_classes = [IsAuthenticated, TenantPermission]
    required_perm = Perm.VIEW

    @extend_schema(responses=ProcessDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        process = selectors.process_get(tenant=request_tenant(request), pk=pk)
        data: dict[str, Any] = dict(ProcessOutputSerializer(process).data)
        data["events"] = ProcessEventSerializer(selectors.process_timeline(process=process), many=True).data
        return Response(data)


class ProcessTerminateApi(APIView):
    permission_classes = [IsAuthenticated, TenantPermission]
    required_perm = Perm.OPERATE

    @extend_schema(request=None, responses=ProcessOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        process = selectors.process_get(tenant=request_tenant(request), pk=pk)
        try:
            process = process_terminate(
                process=process, actor=request.user if getattr(request.user, "pk", None) else None
            )
        except StartError as exc:
            return _error(exc)
        return Response(ProcessOutputSerializer(process).data)
