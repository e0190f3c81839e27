"""Limit API: everyone in the tenant reads limits with live usage; admins write; group limits are staff only."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from admin_ui.api_base import TenantApi
from admin_ui.models import Application
from admin_ui.roles import Perm
from limiter import selectors, services
from limiter.models import MAX_AMOUNT, MAX_SECONDS, Limit


class LimitSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="limit.pk")
    application = serializers.CharField(source="limit.application.key")
    group = serializers.BooleanField(source="limit.is_group", help_text="Shared by all tenants (staff-set).")
    key = serializers.CharField(source="limit.key", help_text="The key the engines count under.")
    amount = serializers.IntegerField(source="limit.amount")
    seconds = serializers.IntegerField(source="limit.seconds")
    used = serializers.IntegerField(help_text="Calls in the current window.")
    waiting = serializers.IntegerField(help_text="Messages waiting for this limit.")
    paused_ms = serializers.IntegerField(help_text="How long a remote Retry-After still pauses the key.")


class LimitInputSerializer(serializers.Serializer[Any]):
    application = serializers.SlugRelatedField(slug_field="key", queryset=Application.objects.all())
    amount = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT)
    seconds = serializers.IntegerField(min_value=1, max_value=MAX_SECONDS)
    group = serializers.BooleanField(default=False, help_text="Shared by all tenants; staff only.")


class LimitChangeSerializer(serializers.Serializer[Any]):
    amount = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT, required=False)
    seconds = serializers.IntegerField(min_value=1, max_value=MAX_SECONDS, required=False)


def _row(tenant: Any, limit: Limit) -> selectors.LimitUsage:
    return next(row for row in selectors.limit_usage(tenant=tenant) if row.limit.pk == limit.pk)


class LimitListApi(TenantApi):
    required_perm = {"GET": Perm.VIEW, "*": Perm.MANAGE}

    @extend_schema(responses=LimitSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(LimitSerializer(selectors.limit_usage(tenant=self.tenant), many=True).data)

    @extend_schema(request=LimitInputSerializer, responses={201: LimitSerializer})
    def post(self, request: Request) -> Response:
        data = LimitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        limit = services.limit_create(tenant=self.tenant, actor=request.user, **data.validated_data)
        return Response(LimitSerializer(_row(self.tenant, limit)).data, status=status.HTTP_201_CREATED)


class LimitDetailApi(TenantApi):
    required_perm = {"GET": Perm.VIEW, "*": Perm.MANAGE}

    def _get(self, pk: int, *, write: bool = False) -> Limit:
        limit = selectors.limit_get(tenant=self.tenant, pk=pk)
        if write and limit.is_group and not getattr(self.request.user, "is_staff", False):
            raise PermissionDenied("Only staff can change a limit shared by all tenants.")
        return limit

    @extend_schema(responses=LimitSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(LimitSerializer(_row(self.tenant, self._get(pk))).data)

    @extend_schema(request=LimitChangeSerializer, responses=LimitSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        limit = self._get(pk, write=True)
        data = LimitChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.limit_update(
            limit=limit,
            amount=data.validated_data.get("amount", limit.amount),
            seconds=data.validated_data.get("seconds", limit.seconds),
            tenant=self.tenant,
            actor=request.user,
        )
        return Response(LimitSerializer(_row(self.tenant, limit)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.limit_delete(limit=self._get(pk, write=True), tenant=self.tenant, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
