from django.contrib import admin

from topology.models import Edge, Node, Topology, TopologyVersion


@admin.register(Topology)
class TopologyAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "updated_at", "deleted_at"]
    list_filter = ["tenant"]
    search_fields = ["name"]


@admin.register(TopologyVersion)
class TopologyVersionAdmin(admin.ModelAdmin):
    list_display = ["topology", "number", "status", "enabled", "updated_at"]
    list_filter = ["status", "enabled"]
    readonly_fields = ["content_hash", "errors", "unsupported"]


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "kind", "version"]
    list_filter = ["kind"]


@admin.register(Edge)
class EdgeAdmin(admin.ModelAdmin):
    list_display = ["key", "source", "target", "is_default"]
