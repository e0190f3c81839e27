from django.urls import path

from trash import api

# Every name starts with `api_trash`: the `trash` token scope opens exactly these endpoints.
urlpatterns = [
    path("trash/", api.TrashListApi.as_view(), name="api_trash_list"),
    path("trash/groups/", api.TrashGroupListApi.as_view(), name="api_trash_groups"),
    path("trash/bulk/", api.TrashBulkListApi.as_view(), name="api_trash_bulk_list"),
    path("trash/bulk/<int:pk>/", api.TrashBulkDetailApi.as_view(), name="api_trash_bulk_detail"),
    path("trash/bulk/<int:pk>/cancel", api.TrashBulkCancelApi.as_view(), name="api_trash_bulk_cancel"),
    path("trash/<int:pk>/", api.TrashDetailApi.as_view(), name="api_trash_detail"),
    path("trash/<int:pk>/resend", api.TrashResendApi.as_view(), name="api_trash_resend"),
    path("trash/<int:pk>/reject", api.TrashRejectApi.as_view(), name="api_trash_reject"),
    path("trash/<int:pk>/try", api.TrashTryApi.as_view(), name="api_trash_try"),
    path("trash/<int:pk>/history", api.TrashHistoryApi.as_view(), name="api_trash_history"),
]
