"""Trash API: list, groups, detail, edit, resend, reject, try, history, bulk jobs. Operators act, viewers read;
the `trash` token scope opens exactly these endpoints (their URL names all start with `api_trash`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from admin_ui.api_base import TenantApi
from admin_ui.api_errors import ErrorSerializer
from admin_ui.api_input import MAX_INT, Pagination
from admin_ui.authentication import request_tenant
from admin_ui.roles import Perm
from trash import selectors, services
from trash.models import TrashBulkJob, TrashEdit, TrashMessage

TOKEN_SCOPE = "trash"


class TrashMessageSerializer(serializers.ModelSerializer[TrashMessage]):
    topology = serializers.CharField(source="version.topology.name")
    version = serializers.IntegerField(source="version.number")
    node_name = serializers.CharField()

    class Meta:
        model = TrashMessage
        fields = [
            "id",
            "topology",
            "version",
            "node_key",
            "node_name",
            "correlation_id",
            "process_id",
            "message_id",
            "reason",
            "signature",
            "status",
            "attempts",
            "revision",
            "created_at",
            "updated_at",
        ]


class TrashMessageDetailSerializer(TrashMessageSerializer):
    class Meta(TrashMessageSerializer.Meta):
        fields = [*TrashMessageSerializer.Meta.fields, "headers", "body"]


class TrashEditSerializer(serializers.ModelSerializer[TrashEdit]):
    class Meta:
        model = TrashEdit
        fields = ["id", "action", "actor_label", "note", "diff", "before", "after", "bulk_job", "at"]


class TrashBulkJobSerializer(serializers.ModelSerializer[TrashBulkJob]):
    percent = serializers.IntegerField()

    class Meta:
        model = TrashBulkJob
        fields = [
            "id",
            "action",
            "group_key",
            "description",
            "params",
            "status",
            "cancel_requested",
            "total",
            "processed",
            "succeeded",
            "skipped",
            "failed",
            "percent",
            "report",
            "actor_label",
            "created_at",
            "started_at",
            "finished_at",
        ]


class GroupSerializer(serializers.Serializer[dict[str, Any]]):
    signature = serializers.CharField()
    node_key = serializers.CharField()
    node_name = serializers.CharField(allow_null=True)
    topology = serializers.CharField(source="version__topology__name")
    count = serializers.IntegerField()
    first_at = serializers.DateTimeField()
    last_at = serializers.DateTimeField()
    reason = serializers.CharField()


class TrashQuerySerializer(serializers.Serializer[Any]):
    """The list filters, validated (a bad value is a 400); `selectors.trash_filters` then reads them."""

    status = serializers.ChoiceField(
        choices=[*TrashMessage.Status.values, ""], required=False, help_text="default: open; empty for all"
    )
    topology = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INT)
    version = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INT, help_text="version number")
    node = serializers.CharField(required=False, allow_blank=True, help_text="node key or name")
    q = serializers.CharField(required=False, allow_blank=True, help_text="reason contains")
    corr = serializers.CharField(required=False, allow_blank=True, help_text="correlation id")
    range = serializers.ChoiceField(choices=list(selectors.RANGES), required=False)
    signature = serializers.CharField(required=False, allow_blank=True, help_text="one group")
    sort = serializers.ChoiceField(choices=list(selectors.SORTS), required=False)


class TrashApi(TenantApi):
    """Base of the trash endpoints: tenant member or token, viewers read, operators act."""

    required_perm: Any = Perm.VIEW
    token_scope = TOKEN_SCOPE

    def message(self, request: Request, pk: int) -> TrashMessage:
        return selectors.trash_message_get(tenant=request_tenant(request), pk=pk)

    def actor(self, request: Request) -> Any:
        # A token acts without a user row; its label ("token:fy_…") still goes into the history.
        return request.user


class _TrashFilteredListApi(TrashApi, generics.ListAPIView):
    """A trash listing filtered like the trash page (query validated first); limit/offset paginated."""

    pagination_class = Pagination

    @extend_schema(parameters=[TrashQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.query(TrashQuerySerializer)
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no tenant
            return []
        return self.rows(tenant=self.tenant, filters=selectors.trash_filters(self.request.query_params))

    def rows(self, *, tenant: Any, filters: Any) -> Any:
        raise NotImplementedError


class TrashListApi(_TrashFilteredListApi):
    """The tenant's trash messages, newest first."""

    serializer_class = TrashMessageSerializer

    def rows(self, *, tenant: Any, filters: Any) -> Any:
        return selectors.trash_message_list(tenant=tenant, filters=filters)


class TrashGroupListApi(_TrashFilteredListApi):
    """Identical failures folded into groups (signature = normalised reason + node)."""

    serializer_class = GroupSerializer

    def rows(self, *, tenant: Any, filters: Any) -> Any:
        return selectors.trash_group_list(tenant=tenant, filters=filters)


class EditInput(serializers.Serializer[Any]):
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    revision = serializers.IntegerField(required=False, help_text="the revision you read; 409 if it moved on")


class TrashDetailApi(TrashApi):
    required_perm = {"GET": Perm.VIEW, "PATCH": Perm.OPERATE}

    @extend_schema(responses=TrashMessageDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(TrashMessageDetailSerializer(self.message(request, pk)).data)

    @extend_schema(request=EditInput, responses={200: TrashMessageDetailSerializer, 409: ErrorSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        """Save a new body (a JSON text) and/or headers; invalid JSON or schema violations are a 400."""
        data = EditInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.trash_message_edit(
            message=self.message(request, pk), actor=self.actor(request), **data.validated_data
        )
        return Response(TrashMessageDetailSerializer(message).data)


class TrashResendApi(TrashApi):
    required_perm = Perm.OPERATE

    @extend_schema(
        request=EditInput,
        responses={200: TrashMessageDetailSerializer, 409: ErrorSerializer, 503: ErrorSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Resend (optionally with a new body/headers saved first) to the failed node."""
        data = EditInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.trash_message_resend(
            message=self.message(request, pk), actor=self.actor(request), **data.validated_data
        )
        return Response(TrashMessageDetailSerializer(message).data)


class RejectInput(serializers.Serializer[Any]):
    reason = serializers.CharField()
    revision = serializers.IntegerField(required=False)


class TrashRejectApi(TrashApi):
    required_perm = Perm.OPERATE

    @extend_schema(request=RejectInput, responses={200: TrashMessageDetailSerializer, 409: ErrorSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = RejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.trash_message_reject(
            message=self.message(request, pk), actor=self.actor(request), **data.validated_data
        )
        return Response(TrashMessageDetailSerializer(message).data)


class TryInput(serializers.Serializer[Any]):
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    confirm = serializers.BooleanField(default=False, help_text="required for nodes that call a remote system")


TryResult = inline_serializer(
    "TrashTryResult",
    {
        "code": serializers.IntegerField(),
        "message": serializers.CharField(),
        "trashed": serializers.BooleanField(),
        "remote": serializers.BooleanField(),
        "duration_ms": serializers.FloatField(),
        "outputs": serializers.ListField(child=serializers.DictField()),
    },
)


class TrashTryApi(TrashApi):
    required_perm = Perm.OPERATE

    @extend_schema(request=TryInput, responses={200: TryResult, 409: ErrorSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Run the failed node on the (edited) message; nothing is saved or published."""
        data = TryInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.trash_message_try(message=self.message(request, pk), **data.validated_data)
        return Response(result)


class TrashHistoryApi(TrashApi):
    @extend_schema(responses=TrashEditSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        history = selectors.trash_history(message=self.message(request, pk))
        return Response(TrashEditSerializer(history, many=True).data)


class BulkInput(serializers.Serializer[Any]):
    action = serializers.ChoiceField(choices=TrashBulkJob.Action.choices)
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_INT), required=False)
    signature = serializers.CharField(required=False, help_text="one group")
    filters = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    reason = serializers.CharField(required=False, allow_blank=True)
    patch = serializers.ListField(
        child=serializers.DictField(), required=False, help_text='[{"op": "set"|"delete", "path": "a.b", "value": 1}]'
    )
    throttle = serializers.IntegerField(
        min_value=0, max_value=1_000_000, default=0, help_text="messages per second, 0 = unthrottled"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if sum(1 for k in ("ids", "signature", "filters") if k in attrs) != 1:
            raise serializers.ValidationError("Give exactly one of ids, signature or filters.")
        return attrs


class TrashBulkListApi(TrashApi):
    required_perm = {"GET": Perm.VIEW, "POST": Perm.OPERATE}

    @extend_schema(responses=TrashBulkJobSerializer(many=True))
    def get(self, request: Request) -> Response:
        jobs = selectors.trash_bulk_job_list(tenant=request_tenant(request), limit=50)
        return Response(TrashBulkJobSerializer(jobs, many=True).data)

    # 404 when the picked ids, group or topology are not the tenant's; 409 when a job already runs on them.
    @extend_schema(
        request=BulkInput, responses={202: TrashBulkJobSerializer, 404: ErrorSerializer, 409: ErrorSerializer}
    )
    def post(self, request: Request) -> Response:
        """Queue a bulk resend, reject or patch-and-resend over picked ids, a group or a filter."""
        data = BulkInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        tenant = request_tenant(request)
        qs, group, description = selectors.trash_selection(
            tenant=tenant,
            ids=values.get("ids"),
            signature=values.get("signature", ""),
            filters=selectors.trash_filters(values["filters"]) if "filters" in values else None,
        )
        job = services.trash_bulk_job_create(
            tenant=tenant,
            actor=self.actor(request),
            action=values["action"],
            messages=qs,
            group_key=group,
            description=description,
            reason=values.get("reason", ""),
            patch=values.get("patch"),
            throttle=values["throttle"],
        )
        return Response(TrashBulkJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class TrashBulkDetailApi(TrashApi):
    @extend_schema(responses=TrashBulkJobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        job = selectors.trash_bulk_job_get(tenant=request_tenant(request), pk=pk)
        return Response(TrashBulkJobSerializer(job).data)


class TrashBulkCancelApi(TrashApi):
    required_perm = Perm.OPERATE

    @extend_schema(request=None, responses={200: TrashBulkJobSerializer, 409: ErrorSerializer})
    def post(self, request: Request, pk: int) -> Response:
        job = selectors.trash_bulk_job_get(tenant=request_tenant(request), pk=pk)
        job = services.trash_bulk_job_cancel(job=job, actor=self.actor(request))
        return Response(TrashBulkJobSerializer(job).data)
