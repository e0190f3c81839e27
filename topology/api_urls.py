from django.urls import path

from topology import api

urlpatterns = [
    path("topologies/", api.TopologyListApi.as_view(), name="api_topology_list"),
    path("topologies/import/", api.TopologyImportApi.as_view(), name="api_topology_import"),
    path("topologies/<int:pk>/", api.TopologyDetailApi.as_view(), name="api_topology_detail"),
    path("topologies/<int:pk>/versions/", api.VersionListApi.as_view(), name="api_version_list"),
    path("topologies/<int:pk>/versions/diff/", api.VersionDiffApi.as_view(), name="api_version_diff"),
    path("topologies/<int:pk>/versions/<int:number>/", api.VersionDetailApi.as_view(), name="api_version_detail"),
    path("topologies/<int:pk>/versions/<int:number>/xml/", api.VersionXmlApi.as_view(), name="api_version_xml"),
    path(
        "topologies/<int:pk>/versions/<int:number>/publish/",
        api.VersionPublishApi.as_view(),
        name="api_version_publish",
    ),
    path(
        "topologies/<int:pk>/versions/<int:number>/enable/", api.VersionEnableApi.as_view(), name="api_version_enable"
    ),
    path(
        "topologies/<int:pk>/versions/<int:number>/disable/",
        api.VersionDisableApi.as_view(),
        name="api_version_disable",
    ),
    path(
        "topologies/<int:pk>/versions/<int:number>/export/", api.VersionExportApi.as_view(), name="api_version_export"
    ),
    path("node-registry/", api.NodeRegistryApi.as_view(), name="api_node_registry"),
    path("installs/options/", api.InstallOptionsApi.as_view(), name="install_options"),
    path("topologies/<int:pk>/webhooks/", api.WebhookListApi.as_view(), name="api_webhook_list"),
    path(
        "topologies/<int:pk>/webhooks/<int:webhook_id>/rotate/",
        api.WebhookRotateApi.as_view(),
        name="api_webhook_rotate",
    ),
    path(
        "topologies/<int:pk>/webhooks/<int:webhook_id>/revoke/",
        api.WebhookRevokeApi.as_view(),
        name="api_webhook_revoke",
    ),
    path(
        "topologies/<int:pk>/webhooks/<int:webhook_id>/signing/",
        api.WebhookSigningApi.as_view(),
        name="api_webhook_signing",
    ),
]
