"""REST API for tenant accounts: tenant, members, invitations, API tokens, applications, installs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from admin_ui import selectors, services
from admin_ui.api_base import TenantApi
from admin_ui.applications import REGISTRY
from admin_ui.errors import ServiceError
from admin_ui.models import ApiToken, ApplicationInstall, Invitation, Membership, Role, Tenant
from admin_ui.roles import Perm


def actor_membership(request: Request, refusal: str) -> Membership:
    """The session user's membership; API tokens have none (and no MANAGE scope), so they are refused."""
    membership: Membership | None = getattr(request._request, "membership", None)
    if membership is None:
        raise ServiceError(refusal)
    return membership


# --------------------------------------------------------------------------- tenant


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "created_at"]
        read_only_fields = ["id", "slug", "created_at"]

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Name cannot be blank.")
        return value.strip()


class CurrentTenantApi(TenantApi):
    """The current tenant: the token's, or the session's chosen one."""

    required_perm = {"GET": Perm.VIEW, "PATCH": Perm.MANAGE, "*": Perm.MANAGE}

    @extend_schema(responses=TenantSerializer)
    def get(self, request: Request) -> Response:
        return Response(TenantSerializer(self.tenant).data)

    @extend_schema(request=TenantSerializer, responses=TenantSerializer)
    def patch(self, request: Request) -> Response:
        serializer = TenantSerializer(self.tenant, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        tenant = self.tenant
        if "name" in serializer.validated_data:
            tenant = services.tenant_rename(tenant=tenant, name=serializer.validated_data["name"], actor=request.user)
        return Response(TenantSerializer(tenant).data)


# --------------------------------------------------------------------------- members


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "role", "created_at"]
        read_only_fields = fields


class RoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=Role.choices,
        error_messages={"invalid_choice": "Unknown role {input}; use one of " + ", ".join(Role.values) + "."},
    )


class MemberListApi(TenantApi):
    required_perm = Perm.VIEW

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(MemberSerializer(selectors.member_list(tenant=self.tenant), many=True).data)


class MemberDetailApi(TenantApi):
    """Change a member's role (PATCH) or remove them (DELETE); owners are managed by owners only."""

    required_perm = {"GET": Perm.VIEW, "*": Perm.MANAGE}

    def _get(self, pk: int) -> Membership:
        return selectors.membership_get(tenant=self.tenant, pk=pk)

    @extend_schema(responses=MemberSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(MemberSerializer(self._get(pk)).data)

    @extend_schema(request=RoleInputSerializer, responses=MemberSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        membership = self._get(pk)
        data = RoleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.membership_change_role(
            membership=membership,
            role=data.validated_data["role"],
            actor=request.user,
            actor_membership=actor_membership(request, "Only members manage members."),
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.membership_remove(
            membership=self._get(pk),
            actor=request.user,
            actor_membership=getattr(request._request, "membership", None),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- invitations


class InvitationSerializer(serializers.ModelSerializer):
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)
    expires_at = serializers.SerializerMethodField()
    accept_url = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by", "created_at", "expires_at", "accept_url"]
        read_only_fields = fields

    def get_expires_at(self, obj: Invitation) -> Any:
        return services.invitation_expires_at(invitation=obj)

    def get_accept_url(self, obj: Invitation) -> str | None:
        if obj.status != Invitation.Status.PENDING:
            return None
        request = self.context.get("request")
        if request is None:
            return services.invitation_url(invitation=obj)
        return str(request.build_absolute_uri(services.invitation_path(invitation=obj)))


class InvitationInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class InvitationQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending", "all"], default="pending")


class InvitationListApi(TenantApi):
    required_perm = Perm.MANAGE

    @extend_schema(parameters=[InvitationQuerySerializer], responses=InvitationSerializer(many=True))
    def get(self, request: Request) -> Response:
        query = self.query(InvitationQuerySerializer)
        qs = selectors.invitation_list(tenant=self.tenant, pending_only=query["status"] == "pending")
        return Response(InvitationSerializer(qs, many=True, context={"request": request}).data)

    @extend_schema(request=InvitationInputSerializer, responses={201: InvitationSerializer})
    def post(self, request: Request) -> Response:
        data = InvitationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            tenant=self.tenant,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            actor=request.user,
            actor_membership=actor_membership(request, "Only members invite members."),
        )
        body = InvitationSerializer(invitation, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class InvitationDetailApi(TenantApi):
    """DELETE revokes a pending invitation."""

    required_perm = Perm.MANAGE

    @extend_schema(responses=InvitationSerializer)
    def get(self, request: Request, pk: int) -> Response:
        invitation = selectors.invitation_get(tenant=self.tenant, pk=pk)
        return Response(InvitationSerializer(invitation, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.invitation_revoke(invitation=selectors.invitation_get(tenant=self.tenant, pk=pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- API tokens


class TokenSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scopes", "active", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class TokenCreatedSerializer(TokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; only its SHA-256 is stored.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class TokenInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        allow_empty=False,
        error_messages={"empty": "Choose at least one scope: " + ", ".join(services.TOKEN_SCOPES) + "."},
    )


class TokenListApi(TenantApi):
    required_perm = Perm.MANAGE

    @extend_schema(responses=TokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(TokenSerializer(selectors.api_token_list(tenant=self.tenant), many=True).data)

    @extend_schema(request=TokenInputSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.api_token_create(
            tenant=self.tenant,
            name=data.validated_data["name"],
            scopes=sorted(data.validated_data["scopes"]),
            actor=request.user,
        )
        body = TokenSerializer(new.token).data
        body["key"] = new.key
        return Response(body, status=status.HTTP_201_CREATED)


class TokenDetailApi(TenantApi):
    """DELETE revokes a token."""

    required_perm = Perm.MANAGE

    @extend_schema(responses=TokenSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(TokenSerializer(selectors.api_token_get(tenant=self.tenant, pk=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.api_token_revoke(token=selectors.api_token_get(tenant=self.tenant, pk=pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- applications and installs


class ApplicationFieldSerializer(serializers.Serializer):
    """One field of an application kind's install form."""

    # Declared in get_fields(): names such as `label`, `required` and `default` are attributes of Field itself.
    def get_fields(self) -> dict[str, serializers.Field]:
        text = serializers.CharField
        return {
            "name": text(),
            "label": text(),
            "kind": serializers.ChoiceField(choices=["text", "url", "select"]),
            "required": serializers.BooleanField(),
            "secret": serializers.BooleanField(help_text="Secret fields are write-only and encrypted at rest."),
            "choices": serializers.ListField(child=serializers.ListField(child=text())),
            "default": text(),
            "help": text(),
            "when": serializers.DictField(
                child=serializers.ListField(child=text()),
                help_text="The field applies only when these other fields have one of these values.",
            ),
        }


class ApplicationSerializer(serializers.Serializer):
    """An installable application kind and the fields an install fills in."""

    # Declared in get_fields(): a class attribute named `fields` would shadow Serializer.fields.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "key": serializers.CharField(),
            "name": serializers.CharField(),
            "description": serializers.CharField(),
            "fields": ApplicationFieldSerializer(many=True),
        }


def application_data(key: str) -> dict[str, Any]:
    kind = REGISTRY[key]
    return {
        "key": kind.key,
        "name": kind.name,
        "description": kind.description,
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "kind": f.kind,
                "required": f.required,
                "secret": f.secret,
                "choices": [list(c) for c in f.choices],
                "default": f.default,
                "help": f.help,
                "when": {k: list(v) for k, v in f.when.items()},
            }
            for f in kind.fields
        ],
    }


class ApplicationListApi(TenantApi):
    """The registry of installable application kinds with their field specs."""

    required_perm = Perm.VIEW

    @extend_schema(responses=ApplicationSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response([application_data(app.key) for app, _ in selectors.application_list()])


class InstallSerializer(serializers.ModelSerializer):
    application: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="key", read_only=True)
    secrets_set = serializers.SerializerMethodField(help_text="Names of stored secrets; values are never returned.")

    class Meta:
        model = ApplicationInstall
        fields = ["id", "application", "name", "settings", "secrets_set", "enabled", "created_at", "updated_at"]
        read_only_fields = fields

    def get_secrets_set(self, obj: ApplicationInstall) -> list[str]:
        return sorted(k for k, v in obj.secrets.items() if v)


class InstallInputSerializer(serializers.Serializer):
    application = serializers.CharField(required=False, help_text="Registry key, e.g. http-api (create only).")
    name = serializers.CharField(max_length=100, required=False)
    settings = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        write_only=True,
        help_text="Write-only. On update, omitted or blank secrets keep their stored value.",
    )
    enabled = serializers.BooleanField(required=False)


class InstallListApi(TenantApi):
    required_perm = {"GET": Perm.VIEW, "*": Perm.MANAGE}

    @extend_schema(responses=InstallSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(InstallSerializer(selectors.install_list(tenant=self.tenant), many=True).data)

    @extend_schema(request=InstallInputSerializer, responses={201: InstallSerializer})
    def post(self, request: Request) -> Response:
        data = InstallInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        errors = {}
        if not v.get("application"):
            errors["application"] = ["This field is required."]
        elif v["application"] not in REGISTRY:
            errors["application"] = [f"Unknown application; use one of {', '.join(sorted(REGISTRY))}."]
        if not v.get("name"):
            errors["name"] = ["This field is required."]
        if errors:
            raise DRFValidationError(errors)
        application = selectors.application_get(key=v["application"])
        install = services.install_create(
            tenant=self.tenant,
            application=application,
            name=v["name"],
            values={**v.get("settings", {}), **v.get("secrets", {})},
            enabled=v.get("enabled", True),
            actor=request.user,
        )
        return Response(InstallSerializer(install).data, status=status.HTTP_201_CREATED)


class InstallDetailApi(TenantApi):
    required_perm = {"GET": Perm.VIEW, "*": Perm.MANAGE}

    def _get(self, pk: int) -> ApplicationInstall:
        return selectors.install_get(tenant=self.tenant, pk=pk)

    @extend_schema(responses=InstallSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(InstallSerializer(self._get(pk)).data)

    @extend_schema(request=InstallInputSerializer, responses=InstallSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        install = self._get(pk)
        data = InstallInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if "application" in v and v["application"] != install.application.key:
            raise DRFValidationError({"application": ["The application of an install cannot change."]})
        values = None
        if "settings" in v or "secrets" in v:
            # Settings given replace those keys; untouched settings stay; secrets omitted stay (blank = keep).
            values = {**install.settings, **v.get("settings", {}), **v.get("secrets", {})}
        services.install_update(
            install=install, name=v.get("name"), values=values, enabled=v.get("enabled"), actor=request.user
        )
        return Response(InstallSerializer(install).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.install_delete(install=self._get(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
