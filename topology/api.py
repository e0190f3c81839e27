"""REST API of topologies and versions (DRF + drf-spectacular); thin views over selectors and services."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from admin_ui.api_base import TenantApi
from admin_ui.api_errors import ErrorSerializer
from admin_ui.api_input import MAX_INT, StrictJSONParser
from admin_ui.errors import Refusal, ServiceError
from admin_ui.roles import Perm
from topology import kinds, selectors, services
from topology.bpmn.parse import BpmnError, max_bytes
from topology.export import bpmn_response
from topology.filters import TopologyFilter
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


class BpmnXmlField(serializers.CharField):
    """A whole BPMN document: DRF's surrogate validator loops over every character in Python (about a second for a
    1,000-node diagram); one UTF-8 encode in C refuses the same lone surrogates."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitSurrogateCharactersValidator)]

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise serializers.ValidationError(
                "Surrogate characters are not allowed.", code="surrogate_characters_not_allowed"
            ) from exc
        return value


class XmlInputSerializer(serializers.Serializer[Any]):
    bpmn_xml = BpmnXmlField()


class ImportInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    bpmn_xml = BpmnXmlField(required=False)
    file = serializers.FileField(required=False)
    process_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def _refuse_too_large(request: Request) -> None:
    """Refuse oversized bodies by their Content-Length before anything reads them."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # JSON escaping can grow XML a little; the XML itself is checked against the exact limit when parsed.
    if length > max_bytes() * 2:
        limit = max_bytes() // (1024 * 1024)
        raise ServiceError(f"The request body is too large (limit {limit} MB of BPMN).", reason=Refusal.TOO_LARGE)


def _version_result(version: TopologyVersion) -> dict[str, Any]:
    return {
        "version": {
            "number": version.number,
            "status": version.status,
            "enabled": version.enabled,
            "content_hash": version.content_hash,
            "process_id": version.process_id,
        },
        "errors": version.errors,
        "unsupported": version.unsupported,
        "editorUrl": reverse("topology_editor", args=[version.topology_id, version.number]),
    }


class DeleteQuerySerializer(serializers.Serializer[Any]):
    force = serializers.BooleanField(default=False, help_text="Delete even while processes are in progress.")


class DiffQuerySerializer(serializers.Serializer[Any]):
    a = serializers.IntegerField(min_value=1, max_value=MAX_INT, help_text="Version number.")
    b = serializers.IntegerField(min_value=1, max_value=MAX_INT, help_text="Version number.")


class TopologyApi(TenantApi):
    """Base of the topology endpoints: reads for viewers, writes for editors, 404 across tenants."""

    required_perm: Any = READ_EDIT

    def topology(self, pk: int) -> Topology:
        return selectors.topology_get(tenant=self.tenant, pk=pk)

    def version(self, pk: int, number: int) -> TopologyVersion:
        return selectors.version_get(topology=self.topology(pk), number=number)


class TopologyListApi(TopologyApi, generics.ListAPIView):
    """List the tenant's topologies or create one (with a starter diagram or given BPMN XML)."""

    serializer_class = TopologyOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = TopologyFilter
    pagination_class = None

    def get_queryset(self) -> QuerySet[Topology]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no tenant
            return Topology.objects.none()
        return selectors.topology_list(tenant=self.tenant)

    @extend_schema(request=TopologyInputSerializer, responses={201: TopologyOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = TopologyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        topology = services.topology_create(
            tenant=self.tenant,
            name=serializer.validated_data["name"],
            description=serializer.validated_data["description"],
            actor=request.user,
        )
        return Response(TopologyOutputSerializer(topology).data, status=status.HTTP_201_CREATED)


class TopologyDetailApi(TopologyApi):
    """Read, rename or (soft) delete one topology; DELETE takes ?force=true while processes run."""

    @extend_schema(responses=TopologyOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(TopologyOutputSerializer(self.topology(pk)).data)

    @extend_schema(request=TopologyPatchSerializer, responses=TopologyOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        topology = self.topology(pk)
        serializer = TopologyPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        topology = services.topology_rename(
            topology=topology,
            name=serializer.validated_data.get("name", topology.name),
            description=serializer.validated_data.get("description"),
            actor=request.user,
        )
        return Response(TopologyOutputSerializer(topology).data)

    @extend_schema(parameters=[DeleteQuerySerializer], responses={204: None, 409: ErrorSerializer})
    def delete(self, request: Request, pk: int) -> Response:
        topology = self.topology(pk)
        force = self.query(DeleteQuerySerializer)["force"]
        services.topology_delete(topology=topology, actor=request.user, force=force)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VersionListApi(TopologyApi):
    """All versions of a topology, newest first."""

    @extend_schema(responses=VersionListSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        versions = selectors.version_list(topology=self.topology(pk))
        return Response(VersionListSerializer(versions, many=True).data)


class VersionDetailApi(TopologyApi):
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
        version = self.version(pk, number)
        return Response(
            {
                "version": VersionOutputSerializer(version).data,
                "nodes": NodeOutputSerializer(selectors.version_nodes(version=version), many=True).data,
                "edges": EdgeOutputSerializer(selectors.version_edges(version=version), many=True).data,
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


class _BodyCappedApi(TopologyApi):
    """Refuses an oversized body (JSON 413) before authentication: a session's CSRF check would read it first."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        _refuse_too_large(request)
        super().initial(request, *args, **kwargs)


class VersionXmlApi(_BodyCappedApi):
    """GET the raw BPMN XML of a version; PUT new XML (a published version gets a new draft)."""

    parser_classes = [StrictJSONParser]

    @extend_schema(responses={(200, "application/xml"): OpenApiTypes.STR})
    def get(self, request: Request, pk: int, number: int) -> HttpResponse:
        return bpmn_response(self.version(pk, number), attachment=False)

    @extend_schema(request=XmlInputSerializer, responses={200: SAVE_RESULT, 409: ErrorSerializer, 413: ErrorSerializer})
    def put(self, request: Request, pk: int, number: int) -> Response:
        version = self.version(pk, number)
        serializer = XmlInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = services.topology_version_save(
            version=version, bpmn_xml=serializer.validated_data["bpmn_xml"], actor=request.user
        )
        return Response(_version_result(saved))


class VersionPublishApi(TopologyApi):
    """Publish a draft; 400 with the validation errors if it has any."""

    required_perm = Perm.EDIT

    @extend_schema(request=None, responses={200: SAVE_RESULT, 409: ErrorSerializer})
    def post(self, request: Request, pk: int, number: int) -> Response:
        version = services.topology_version_publish(version=self.version(pk, number), actor=request.user)
        return Response(_version_result(version))


class VersionEnableApi(TopologyApi):
    """Enable a published version (the previous enabled version is disabled)."""

    required_perm = Perm.EDIT

    @extend_schema(request=None, responses={200: SAVE_RESULT, 400: ErrorSerializer})
    def post(self, request: Request, pk: int, number: int) -> Response:
        version = services.topology_version_enable(version=self.version(pk, number), actor=request.user)
        return Response(_version_result(version))


class VersionDisableApi(TopologyApi):
    """Disable a version: its starts stop, in-flight messages drain."""

    required_perm = Perm.EDIT

    @extend_schema(request=None, responses=SAVE_RESULT)
    def post(self, request: Request, pk: int, number: int) -> Response:
        version = services.topology_version_disable(version=self.version(pk, number), actor=request.user)
        return Response(_version_result(version))


class VersionDiffApi(TopologyApi):
    """Nodes added, removed and changed between versions ?a= and ?b=."""

    @extend_schema(parameters=[DiffQuerySerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        topology = self.topology(pk)
        query = self.query(DiffQuerySerializer)
        diff = selectors.version_compare(topology=topology, a=query["a"], b=query["b"])
        return Response(diff)


class VersionExportApi(TopologyApi):
    """Download a version as a .bpmn file, exactly as stored."""

    @extend_schema(responses={(200, "application/xml"): OpenApiTypes.STR})
    def get(self, request: Request, pk: int, number: int) -> HttpResponse:
        return bpmn_response(self.version(pk, number), attachment=True)


class TopologyImportApi(_BodyCappedApi):
    """Create a topology from a BPMN file (multipart `file`) or JSON {name, bpmn_xml}."""

    required_perm = Perm.EDIT
    parser_classes = [MultiPartParser, FormParser, StrictJSONParser]

    @extend_schema(
        request={"multipart/form-data": ImportInputSerializer, "application/json": ImportInputSerializer},
        responses={201: SAVE_RESULT, 413: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = ImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data.get("file")
        name = serializer.validated_data["name"]
        if upload is not None:
            if upload.size > max_bytes():
                raise BpmnError(f"The BPMN file is larger than {max_bytes() // (1024 * 1024)} MB.")
            xml: str | bytes = upload.read()  # bytes: decoded as the file declares
            name = name or upload.name.rsplit(".", 1)[0]
        elif serializer.validated_data.get("bpmn_xml"):
            xml = serializer.validated_data["bpmn_xml"]
        else:
            raise ServiceError("Send a BPMN file or bpmn_xml.", errors={"file": ["Required."]})
        version = services.topology_import(
            tenant=self.tenant,
            name=name,
            bpmn_xml=xml,
            actor=request.user,
            process_id=serializer.validated_data["process_id"],
        )
        body = _version_result(version)
        body["topology"] = TopologyOutputSerializer(version.topology).data
        return Response(body, status=status.HTTP_201_CREATED)


class NodeRegistryApi(TopologyApi):
    """Node kinds (fields, retry defaults, editor look) and the Python nodes the engine can run: the editor's model."""

    @extend_schema(
        responses=inline_serializer(
            "NodeRegistry",
            {
                "groups": serializers.ListField(child=serializers.DictField()),
                "kinds": serializers.ListField(child=serializers.DictField()),
                "retryOn": serializers.ListField(child=serializers.CharField()),
                "python": inline_serializer(
                    "RegistryNode",
                    {"name": serializers.CharField(), "description": serializers.CharField()},
                    many=True,
                ),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response(kinds.registry_payload(registry.describe()))


class InstallOptionsApi(TopologyApi):
    """The tenant's enabled application installs, for the editor's connector nodes."""

    @extend_schema(
        responses=inline_serializer(
            "InstallOption",
            {"id": serializers.IntegerField(), "name": serializers.CharField(), "application": serializers.CharField()},
            many=True,
        )
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.install_options(tenant=self.tenant))


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


def _webhook_row(webhook: Any) -> dict[str, Any]:
    row = next(r for r in webhook_list(topology=webhook.topology) if r.id == webhook.pk)
    return dict(WebhookSerializer(row).data)


class WebhookApi(TopologyApi):
    """Base of the webhook endpoints: operators and above (a webhook URL starts processes)."""

    required_perm = Perm.OPERATE

    def webhook(self, pk: int, webhook_id: int) -> Any:
        return webhook_get(topology=self.topology(pk), pk=webhook_id)


class WebhookListApi(WebhookApi):
    """Active webhooks of a topology with their URLs."""

    @extend_schema(responses=WebhookSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookSerializer(webhook_list(topology=self.topology(pk)), many=True).data)


class WebhookRotateApi(WebhookApi):
    """Replace a webhook's URL; the old one answers 404 from now on."""

    @extend_schema(request=None, responses=WebhookSerializer)
    def post(self, request: Request, pk: int, webhook_id: int) -> Response:
        new = webhook_rotate(webhook=self.webhook(pk, webhook_id), actor=request.user)
        return Response(_webhook_row(new))


class WebhookRevokeApi(WebhookApi):
    """Revoke a webhook: its URL answers 404 from now on."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, pk: int, webhook_id: int) -> Response:
        webhook_revoke(webhook=self.webhook(pk, webhook_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSigningApi(WebhookApi):
    """Require (with a new secret) or stop requiring an HMAC signature on a webhook's requests."""

    @extend_schema(request=WebhookSigningInputSerializer, responses=WebhookSerializer)
    def post(self, request: Request, pk: int, webhook_id: int) -> Response:
        data = WebhookSigningInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = webhook_signing_set(
            webhook=self.webhook(pk, webhook_id), signed=data.validated_data["signed"], actor=request.user
        )
        return Response(_webhook_row(webhook))
