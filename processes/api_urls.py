from django.urls import path

from processes import api

urlpatterns = [
    path("topologies/<str:name>/start", api.TopologyStartApi.as_view(), name=api.START_URL_NAME),
    path("processes/", api.ProcessListApi.as_view(), name="api_process_list"),
    path("processes/<int:pk>/", api.ProcessDetailApi.as_view(), name="api_process_detail"),
    path("processes/<int:pk>/terminate", api.ProcessTerminateApi.as_view(), name="api_process_terminate"),
]
