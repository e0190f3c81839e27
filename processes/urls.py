from django.urls import path

from processes import api, views

urlpatterns = [
    path("processes/", views.process_list, name="process_list"),
    path("processes/<int:pk>/", views.process_detail, name="process_detail"),
    path("processes/<int:pk>/terminate/", views.process_terminate_view, name="process_terminate"),
    path("topologies/<int:pk>/start/", views.topology_start_view, name="topology_start"),
    path("hooks/<str:token>", api.WebhookStartApi.as_view(), name="webhook_start"),
]
