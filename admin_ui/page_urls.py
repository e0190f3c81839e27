from django.contrib.auth import views as auth_views
from django.urls import path

from admin_ui import account_views as views
from admin_ui.forms import EmailAuthenticationForm

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="admin_ui/login.html",
            authentication_form=EmailAuthenticationForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/signup/<uidb64>/<token>/", views.signup_confirm, name="signup_confirm"),
    path(
        "accounts/password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name="registration/password_change_form.html",
            extra_context={"title": "Change password", "submit_label": "Change password"},
        ),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="registration/password_change_done.html"),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        views.PasswordResetView.as_view(
            template_name="registration/password_reset_form.html",
            email_template_name="registration/password_reset_email.txt",
            subject_template_name="registration/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(template_name="registration/password_reset_confirm.html"),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("invites/<str:token>/", views.invite_accept, name="invite_accept"),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/<int:pk>/switch/", views.tenant_switch, name="tenant_switch"),
    path("settings/", views.tenant_settings, name="tenant_settings"),
    path("settings/delete/", views.tenant_delete, name="tenant_delete"),
    path("settings/leave/", views.tenant_leave, name="tenant_leave"),
    path("settings/members/", views.member_list, name="member_list"),
    path("settings/members/invite/", views.invitation_create, name="invitation_create"),
    path("settings/members/<int:pk>/role/", views.member_role, name="member_role"),
    path("settings/members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("settings/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("settings/tokens/", views.token_list, name="token_list"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("settings/audit/", views.audit_list, name="audit_list"),
    path("applications/", views.install_list, name="install_list"),
    path("applications/catalog/", views.install_catalog, name="install_catalog"),
    path("applications/new/<slug:key>/", views.install_create, name="install_create"),
    path("applications/<int:pk>/", views.install_edit, name="install_edit"),
    path("applications/<int:pk>/toggle/", views.install_toggle, name="install_toggle"),
    path("applications/<int:pk>/delete/", views.install_delete, name="install_delete"),
]
