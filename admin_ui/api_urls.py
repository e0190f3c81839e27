from django.urls import path

from admin_ui import api

urlpatterns = [
    path("tenant/", api.TenantView.as_view(), name="api-tenant"),
    path("members/", api.MemberListView.as_view(), name="api-member-list"),
    path("members/<int:pk>/", api.MemberDetailView.as_view(), name="api-member-detail"),
    path("invitations/", api.InvitationListView.as_view(), name="api-invitation-list"),
    path("invitations/<int:pk>/", api.InvitationDetailView.as_view(), name="api-invitation-detail"),
    path("tokens/", api.TokenListView.as_view(), name="api-token-list"),
    path("tokens/<int:pk>/", api.TokenDetailView.as_view(), name="api-token-detail"),
    path("applications/", api.ApplicationListView.as_view(), name="api-application-list"),
    path("installs/", api.InstallListView.as_view(), name="api-install-list"),
    path("installs/<int:pk>/", api.InstallDetailView.as_view(), name="api-install-detail"),
]
