from django.contrib.auth import views as auth_views
from django.urls import path

from admin_ui import account_views as views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(template_name="admin_ui/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path(
        "accounts/password/change/",
        auth_views.PasswordChangeView.as_view(template_name="admin_ui/form_page.html"),
        name="password_change",
    ),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/<int:pk>/switch/", views.tenant_switch, name="tenant_switch"),
    path("settings/", views.tenant_settings, name="tenant_settings"),
    path("applications/", views.install_list, name="install_list"),
]
