from django.urls import path

from processes import hooks, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("processes/", views.process_list, name="process_list"),
    path("processes/export/", views.process_export, name="process_export"),
    path("processes/terminate/", views.process_bulk_terminate, name="process_bulk_terminate"),
    path("processes/<int:pk>/path/", views.process_path_json, name="process_path"),
    path("processes/<int:pk>/payloads/<str:message_id>/", views.process_payload, name="process_payload"),
    path("topologies/<int:pk>/monitor/", views.topology_monitor, name="topology_monitor"),
    path("topologies/<int:pk>/monitor/stats/", views.topology_monitor_stats, name="topology_monitor_stats"),
    path("topologies/<int:pk>/monitor/nodes/<str:key>/", views.topology_monitor_node, name="topology_monitor_node"),
    path("processes/<int:pk>/", views.process_detail, name="process_detail"),
    path("processes/<int:pk>/terminate/", views.process_terminate_view, name="process_terminate"),
    path("topologies/<int:pk>/start/", views.topology_start_view, name="topology_start"),
    path("hooks/<str:token>", hooks.webhook_intake, name="webhook_start"),
]
