from django.urls import path

from admin_ui import api

urlpatterns = [
    path("tenant/", api.CurrentTenantApi.as_view(), name="api-tenant"),
    path("members/", api.MemberListApi.as_view(), name="api-member-list"),
    path("members/<int:pk>/", api.MemberDetailApi.as_view(), name="api-member-detail"),
    path("invitations/", api.InvitationListApi.as_view(), name="api-invitation-list"),
    path("invitations/<int:pk>/", api.InvitationDetailApi.as_view(), name="api-invitation-detail"),
    path("tokens/", api.TokenListApi.as_view(), name="api-token-list"),
    path("tokens/<int:pk>/", api.TokenDetailApi.as_view(), name="api-token-detail"),
    path("applications/", api.ApplicationListApi.as_view(), name="api-application-list"),
    path("installs/", api.InstallListApi.as_view(), name="api-install-list"),
    path("installs/<int:pk>/", api.InstallDetailApi.as_view(), name="api-install-detail"),
]
