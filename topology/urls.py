from django.urls import path

from topology import views

urlpatterns = [
    path("topologies/", views.topology_list, name="topology_list"),
    path("topologies/new/", views.topology_create, name="topology_create"),
    path("topologies/import/", views.topology_import, name="topology_import"),
    path("topologies/<int:pk>/", views.topology_detail, name="topology_detail"),
    path("topologies/<int:pk>/rename/", views.topology_rename, name="topology_rename"),
    path("topologies/<int:pk>/clone/", views.topology_clone, name="topology_clone"),
    path("topologies/<int:pk>/delete/", views.topology_delete, name="topology_delete"),
    path("topologies/<int:pk>/versions/", views.topology_versions, name="topology_versions"),
    path("topologies/<int:pk>/versions/diff/", views.topology_version_diff, name="topology_version_diff"),
    path("topologies/<int:pk>/versions/<int:number>/edit/", views.topology_editor, name="topology_editor"),
    path(
        "topologies/<int:pk>/versions/<int:number>/export/",
        views.topology_version_export,
        name="topology_version_export",
    ),
    path(
        "topologies/<int:pk>/versions/<int:number>/publish/",
        views.topology_version_publish,
        name="topology_version_publish",
    ),
    path(
        "topologies/<int:pk>/versions/<int:number>/enable/",
        views.topology_version_enable,
        name="topology_version_enable",
    ),
    path(
        "topologies/<int:pk>/versions/<int:number>/disable/",
        views.topology_version_disable,
        name="topology_version_disable",
    ),
    path(
        "topologies/<int:pk>/webhooks/<int:webhook_id>/rotate/",
        views.topology_webhook_rotate,
        name="topology_webhook_rotate",
    ),
    path(
        "topologies/<int:pk>/webhooks/<int:webhook_id>/revoke/",
        views.topology_webhook_revoke,
        name="topology_webhook_revoke",
    ),
    path(
        "topologies/<int:pk>/webhooks/<int:webhook_id>/signing/",
        views.topology_webhook_signing,
        name="topology_webhook_signing",
    ),
]
