"""REST API of topologies and versions (DRF + drf-spectacular); thin views over selectors and services."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from admin_ui.authentication import TenantPermission, request_tenant
from admin_ui.roles import Perm
from topology import selectors, services
from topology.bpmn.diff import version_diff
from topology.bpmn.parse import BpmnError, max_bytes
from topology.models import Edge, Node, Topology, TopologyVersion
from topology.runtime.registry import registry
from topology.webhooks import webhook_get, webhook_list, webhook_revoke, webhook_rotate, webhook_signing_set

READ_EDIT = {"GET": Perm.VIEW, "HEAD": Perm.VIEW, "OPTIONS": Perm.VIEW, "*": Perm.EDIT}


class TopologyOutputSerializer(serializers.ModelSerializer[Topology]):
    enabled_version = serializers.SerializerMethodField()
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = Topology
        fields = ["id", "name", "description", "created_at", "updated_at", "enabled_version", "latest_version"]

    def get_enabled_version(self, obj: Topology) -> int | None:
        if hasattr(obj, "enabled_number"):
            return obj.enabled_number  # type: ignore[no-any-return]
        version = selectors.version_enabled(topology=obj)
        return version.number if version else None

    def get_latest_version(self, obj: Topology) -> int | None:
        if hasattr(obj, "latest_number"):
            return obj.latest_number  # type: ignore[no-any-return]
        version = selectors.version_latest(topology=obj)
        return version.number if version else None


class VersionOutputSerializer(serializers.ModelSerializer[TopologyVersion]):
    editor_url = serializers.SerializerMethodField()

    class Meta:
        model = TopologyVersion
        fields = [
            "number",
            "status",
            "enabled",
            "content_hash",
            "errors",
            "unsupported",
            "created_at",
            "updated_at",
            "published_at",
            "enabled_at",
            "editor_url",
        ]

    def get_editor_url(self, obj: TopologyVersion) -> str:
        return reverse("topology_editor", args=[obj.topology_id, obj.number])


class VersionListSerializer(VersionOutputSerializer):
    """A version in a list: problem counts instead of the problem lists (which can be megabytes)."""

    error_count = serializers.IntegerField(read_only=True)
    unsupported_count = serializers.IntegerField(read_only=True)
    node_count = serializers.IntegerField(read_only=True)

    class Meta(VersionOutputSerializer.Meta):
        fields = [
            *(f for f in VersionOutputSerializer.Meta.fields if f not in ("errors", "unsupported")),
            "node_count",
            "error_count",
            "unsupported_count",
        ]


class NodeOutputSerializer(serializers.ModelSerializer[Node]):
    class Meta:
        model = Node
        fields = ["key", "name", "kind", "config", "install", "ordered", "prefetch", "retry"]


class EdgeOutputSerializer(serializers.ModelSerializer[Edge]):
    source = serializers.CharField(source="source.key")  # type: ignore[assignment]  # stubs type Field.source
    target = serializers.CharField(source="target.key")

    class Meta:
        model = Edge
        fields = ["key", "name", "source", "target", "condition", "is_default"]


class TopologyInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class TopologyPatchSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class XmlInputSerializer(serializers.Serializer[Any]):
    bpmn_xml = serializers.CharField(trim_whitespace=False)


class ImportInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    bpmn_xml = serializers.CharField(required=False, trim_whitespace=False)
    file = serializers.FileField(required=False)


def _error(exc: Exception) -> Response:
    if isinstance(exc, BpmnError):
        return Response({"detail": exc.message, "errors": [exc.as_dict()]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, services.TopologyError):
        return Response({"detail": exc.detail, "errors": exc.errors}, status=exc.status)
    raise exc


def _too_large(request: Request) -> Response | None:
    """Refuse oversized bodies by their Content-Length before anything reads them."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # JSON escaping can grow XML a little; the XML itself is checked against the exact limit when parsed.
    if length > max_bytes() * 2:
        limit = max_bytes() // (1024 * 1024)
        return Response(
            {"detail": f"The request body is too large (limit {limit} MB of BPMN).", "errors": {}},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return None


def _version_result(version: TopologyVersion) -> dict[str, Any]:
    return {
        "version": {
            "number": version.number,
            "status": version.status,
            "enabled": version.enabled,
            "content_hash": version.content_hash,
        },
        "errors": version.errors,
        "unsupported": version.unsupported,
        "editorUrl": reverse("topology_editor", args=[version.topology_id, version.number]),
    }


def _version(request: Request, pk: int, number: int) -> TopologyVersion:
    topology = selectors.topology_get(tenant=request_tenant(request), pk=pk)
    return selectors.version_get(topology=topology, number=number)


def _bpmn_response(version: TopologyVersion, *, attachment: bool) -> HttpResponse:
    response = HttpResponse(version.bpmn_xml, content_type="application/xml; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    if attachment:
        filename = f"{slugify(version.topology.name) or 'topology'}-v{version.number}.bpmn"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class TenantApiView(APIView):
    permission_classes = [IsAuthenticated, TenantPermission]
    required_perm: Any = READ_EDIT


class TopologyListApi(TenantApiView):
    """List the tenant's topologies or create one (with a starter diagram or given BPMN XML)."""

    @extend_schema(
        parameters=[OpenApiParameter("search", str, required=False)], responses=TopologyOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        qs = selectors.topology_list(tenant=request_tenant(request), search=request.query_params.get("search", ""))
        return Response(TopologyOutputSerializer(qs, many=True).data)

    @extend_schema(request=TopologyInputSerializer, responses={201: TopologyOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = TopologyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            topology = services.topology_create(
                tenant=request_tenant(request),
                name=serializer.validated_data["name"],
                description=serializer.validated_data["description"],
                actor=request.user,
            )
        except (services.TopologyError, BpmnError) as exc:
            return _error(exc)
        return Response(TopologyOutputSerializer(topology).data, status=status.HTTP_201_CREATED)


class TopologyDetailApi(TenantApiView):
    """Read, rename or (soft) delete one topology; DELETE takes ?force=true while processes run."""

    @extend_schema(responses=TopologyOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(TopologyOutputSerializer(selectors.topology_get(tenant=request_tenant(request), pk=pk)).data)

    @extend_schema(request=TopologyPatchSerializer, responses=TopologyOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        topology = selectors.topology_get(tenant=request_tenant(request), pk=pk)
        serializer = TopologyPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            topology = services.topology_rename(
                topology=topology,
                name=serializer.validated_data.get("name", topology.name),
                description=serializer.validated_data.get("description"),
                actor=request.user,
            )
        except services.TopologyError as exc:
            return _error(exc)
        return Response(TopologyOutputSerializer(topology).data)

    @extend_schema(parameters=[OpenApiParameter("force", bool, required=False)], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        topology = selectors.topology_get(tenant=request_tenant(request), pk=pk)
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
        try:
            services.topology_delete(topology=topology, actor=request.user, force=force)
        except services.TopologyError as exc:
            return _error(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VersionListApi(TenantApiView):
    """All versions of a topology, newest first."""

    @extend_schema(responses=VersionListSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        topology = selectors.topology_get(tenant=request_tenant(request), pk=pk)
        return Response(VersionListSerializer(selectors.version_list(topology=topology), many=True).data)


class VersionDetailApi(TenantApiView):
    """A version's metadata with its derived nodes and edges."""

    @extend_schema(
        responses=inline_serializer(
            "VersionDetail",
            {
                "version": VersionOutputSerializer(),
                "nodes": NodeOutputSerializer(many=True),
                "edges": EdgeOutputSerializer(many=True),
            },
        )
    )
    def get(self, request: Request, pk: int, number: int) -> Response:
        version = _version(request, pk, number)
        nodes = Node.objects.filter(version=version).order_by("key")
        edges = Edge.objects.filter(version=version).select_related("source", "target").order_by("key")
        return Response(
            {
                "version": VersionOutputSerializer(version).data,
                "nodes": NodeOutputSerializer(nodes, many=True).data,
                "edges": EdgeOutputSerializer(edges, many=True).data,
            }
        )


SAVE_RESULT = inline_serializer(
    "VersionSaveResult",
    {
        "version": serializers.DictField(),
        "errors": serializers.ListField(child=serializers.DictField()),
        "unsupported": serializers.ListField(child=serializers.DictField()),
        "editorUrl": serializers.CharField(),
    },
)


class VersionXmlApi(TenantApiView):
    """GET the raw BPMN XML of a version; PUT new XML (a published version gets a new draft)."""

    parser_classes = [JSONParser]

    @extend_schema(responses={(200, "application/xml"): OpenApiTypes.STR})
    def get(self, request: Request, pk: int, number: int) -> HttpResponse:
        return _bpmn_response(_version(request, pk, number), attachment=False)

    @extend_schema(request=XmlInputSerializer, responses=SAVE_RESULT)
    def put(self, request: Request, pk: int, number: int) -> Response:
        version = _version(request, pk, number)
        refused = _too_large(request)
        if refused is not None:
            return refused
        serializer = XmlInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            saved = services.topology_version_save(
                version=version, bpmn_xml=serializer.validated_data["bpmn_xml"], actor=request.user
            )
        except (services.TopologyError, BpmnError) as exc:
            return _error(exc)
        return Response(_version_result(saved))


class VersionPublishApi(TenantApiView):
    """Publish a draft; 400 with the validation errors if it has any."""

    required_perm = Perm.EDIT

    @extend_schema(request=None, responses=SAVE_RESULT)
    def post(self, request: Request, pk: int, number: int) -> Response:
        try:
            version = services.topology_version_publish(version=_version(request, pk, number), actor=request.user)
        except services.TopologyError as exc:
            return _error(exc)
        return Response(_version_result(version))


class VersionEnableApi(TenantApiView):
    """Enable a published version (the previous enabled version is disabled)."""

    required_perm = Perm.EDIT

    @extend_schema(request=None, responses=SAVE_RESULT)
    def post(self, request: Request, pk: int, number: int) -> Response:
        try:
            version = services.topology_version_enable(version=_version(request, pk, number), actor=request.user)
        except services.TopologyError as exc:
            return _error(exc)
        return Response(_version_result(version))


class VersionDisableApi(TenantApiView):
    """Disable a version: its starts stop, in-flight messages drain."""

    required_perm = Perm.EDIT

    @extend_schema(request=None, responses=SAVE_RESULT)
    def post(self, request: Request, pk: int, number: int) -> Response:
        version = services.topology_version_disable(version=_version(request, pk, number), actor=request.user)
        return Response(_version_result(version))


class VersionDiffApi(TenantApiView):
    """Nodes added, removed and changed between versions ?a= and ?b=."""

    @extend_schema(
        parameters=[OpenApiParameter("a", int, required=True), OpenApiParameter("b", int, required=True)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, pk: int) -> Response:
        topology = selectors.topology_get(tenant=request_tenant(request), pk=pk)
        try:
            a, b = int(request.query_params["a"]), int(request.query_params["b"])
        except (KeyError, ValueError):
            return Response(
                {"detail": "Give two version numbers as ?a= and ?b=.", "errors": {"a": ["Required."]}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        diff = version_diff(
            a=selectors.version_get(topology=topology, number=a), b=selectors.version_get(topology=topology, number=b)
        )
        return Response(diff)


class VersionExportApi(TenantApiView):
    """Download a version as a .bpmn file, exactly as stored."""

    @extend_schema(responses={(200, "application/xml"): OpenApiTypes.STR})
    def get(self, request: Request, pk: int, number: int) -> HttpResponse:
        return _bpmn_response(_version(request, pk, number), attachment=True)


class TopologyImportApi(TenantApiView):
    """Create a topology from a BPMN file (multipart `file`) or JSON {name, bpmn_xml}."""

    required_perm = Perm.EDIT
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": ImportInputSerializer, "application/json": ImportInputSerializer},
        responses={201: SAVE_RESULT},
    )
    def post(self, request: Request) -> Response:
        refused = _too_large(request)
        if refused is not None:
            return refused
        serializer = ImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data.get("file")
        name = serializer.validated_data["name"]
        if upload is not None:
            if upload.size > max_bytes():
                return _error(BpmnError(f"The BPMN file is larger than {max_bytes() // (1024 * 1024)} MB."))
            xml: str = upload.read().decode("utf-8", errors="replace")
            name = name or upload.name.rsplit(".", 1)[0]
        elif serializer.validated_data.get("bpmn_xml"):
            xml = serializer.validated_data["bpmn_xml"]
        else:
            return Response(
                {"detail": "Send a BPMN file or bpmn_xml.", "errors": {"file": ["Required."]}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            version = services.topology_import(
                tenant=request_tenant(request), name=name, bpmn_xml=xml, actor=request.user
            )
        except (services.TopologyError, BpmnError) as exc:
            return _error(exc)
        body = _version_result(version)
        body["topology"] = TopologyOutputSerializer(version.topology).data
        return Response(body, status=status.HTTP_201_CREATED)


class NodeRegistryApi(TenantApiView):
    """Python nodes the engine can run, for the editor's python and batch nodes."""

    @extend_schema(
        responses=inline_serializer(
            "RegistryNode", {"name": serializers.CharField(), "description": serializers.CharField()}, many=True
        )
    )
    def get(self, request: Request) -> Response:
        return Response(registry.describe())


class InstallOptionsApi(TenantApiView):
    """The tenant's enabled application installs, for the editor's connector nodes."""

    @extend_schema(
        responses=inline_serializer(
            "InstallOption",
            {"id": serializers.IntegerField(), "name": serializers.CharField(), "application": serializers.CharField()},
            many=True,
        )
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.install_options(tenant=request_tenant(request)))


# --------------------------------------------------------------------------- webhooks (operators and above)


class WebhookSerializer(serializers.Serializer[Any]):
    """An active webhook: its URL starts processes, so only operators and above (and `start` tokens) see it."""

    id = serializers.IntegerField()
    node_key = serializers.CharField()
    url = serializers.CharField()
    signed = serializers.BooleanField()
    secret = serializers.CharField(help_text="The HMAC-SHA256 key of X-Flowyard-Signature; empty when not signed.")
    created_at = serializers.DateTimeField()


class WebhookSigningInputSerializer(serializers.Serializer[Any]):
    signed = serializers.BooleanField(help_text="true: require X-Flowyard-Signature with a new secret.")


def _webhook(request: Request, pk: int, webhook_id: int) -> Any:
    topology = selectors.topology_get(tenant=request_tenant(request), pk=pk)
    return webhook_get(topology=topology, pk=webhook_id)


def _webhook_row(webhook: Any) -> dict[str, Any]:
    row = next(r for r in webhook_list(topology=webhook.topology) if r.id == webhook.pk)
    return dict(WebhookSerializer(row).data)


class WebhookListApi(TenantApiView):
    """Active webhooks of a topology with their URLs."""

    required_perm = Perm.OPERATE

    @extend_schema(responses=WebhookSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        topology = selectors.topology_get(tenant=request_tenant(request), pk=pk)
        return Response(WebhookSerializer(webhook_list(topology=topology), many=True).data)


class WebhookRotateApi(TenantApiView):
    """Replace a webhook's URL; the old one answers 404 from now on."""

    required_perm = Perm.OPERATE

    @extend_schema(request=None, responses=WebhookSerializer)
    def post(self, request: Request, pk: int, webhook_id: int) -> Response:
        new = webhook_rotate(webhook=_webhook(request, pk, webhook_id), actor=request.user)
        return Response(_webhook_row(new))


class WebhookRevokeApi(TenantApiView):
    """Revoke a webhook: its URL answers 404 from now on."""

    required_perm = Perm.OPERATE

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, pk: int, webhook_id: int) -> Response:
        webhook_revoke(webhook=_webhook(request, pk, webhook_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSigningApi(TenantApiView):
    """Require (with a new secret) or stop requiring an HMAC signature on a webhook's requests."""

    required_perm = Perm.OPERATE

    @extend_schema(request=WebhookSigningInputSerializer, responses=WebhookSerializer)
    def post(self, request: Request, pk: int, webhook_id: int) -> Response:
        data = WebhookSigningInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = webhook_signing_set(
            webhook=_webhook(request, pk, webhook_id), signed=data.validated_data["signed"], actor=request.user
        )
        return Response(_webhook_row(webhook))
