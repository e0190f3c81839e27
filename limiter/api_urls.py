from django.urls import path

from limiter import api

urlpatterns = [
    path("limits/", api.LimitListApi.as_view(), name="api_limit_list"),
    path("limits/<int:pk>/", api.LimitDetailApi.as_view(), name="api_limit_detail"),
]
