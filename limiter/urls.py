from django.urls import path

from limiter import views

urlpatterns = [
    path("", views.limit_list, name="limit_list"),
    path("history.json", views.limit_history, name="limit_history"),
    path("new/", views.limit_create, name="limit_create"),
    path("<int:pk>/edit/", views.limit_edit, name="limit_edit"),
    path("<int:pk>/delete/", views.limit_delete, name="limit_delete"),
]
