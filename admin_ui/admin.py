"""Django admin for support staff: read-mostly views of accounts; secrets and key hashes stay hidden."""

from __future__ import annotations

from django.contrib import admin

from admin_ui.models import ApiToken, Application, ApplicationInstall, AuditEntry, Invitation, Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "role", "status", "created_at"]
    list_filter = ["status", "role"]
    search_fields = ["email", "tenant__name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "prefix", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "prefix", "tenant__name"]
    exclude = ["hashed_key"]
    readonly_fields = ["prefix", "last_used_at"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "tenant", "actor_label", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "object_repr", "tenant__name"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ["key", "name"]


@admin.register(ApplicationInstall)
class ApplicationInstallAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "application", "enabled", "updated_at"]
    list_filter = ["enabled", "application"]
    # Secrets are edited through the app pages, which keep them masked and audited.
    exclude = ["secrets"]
