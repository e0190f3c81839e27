"""The base of every API endpoint: tenant-scoped permission, query validation; errors mapped by the handler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.permissions import IsAuthenticated
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from admin_ui.authentication import TenantPermission, request_tenant
from admin_ui.models import Tenant
from admin_ui.roles import Perm


class TenantApi(APIView):
    """Base of every tenant API endpoint: `required_perm` (a Perm, or per method) checked for the tenant.

    Services raise `admin_ui.errors.ServiceError`; `admin_ui.api_errors.exception_handler` answers it.
    """

    permission_classes = [IsAuthenticated, TenantPermission]
    required_perm: Perm | Mapping[str, Perm] = Perm.VIEW

    @property
    def tenant(self) -> Tenant:
        tenant: Tenant = request_tenant(self.request)
        return tenant

    def query(self, serializer_class: type[Serializer[Any]]) -> dict[str, Any]:
        """The query string validated by `serializer_class` (also named in the schema); a 400 when invalid."""
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @property
    def actor(self) -> Any:
        """The user acting, or None for an API token (which acts without a user row)."""
        user = self.request.user
        return user if getattr(user, "pk", None) else None
