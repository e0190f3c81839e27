from django.urls import path

from trash import views

urlpatterns = [
    path("", views.trash_list, name="trash_list"),
    path("<int:pk>/", views.trash_detail, name="trash_detail"),
    path("<int:pk>/edit/", views.trash_edit, name="trash_edit"),
    path("<int:pk>/reject/", views.trash_reject, name="trash_reject"),
    path("<int:pk>/try/", views.trash_try, name="trash_try"),
    path("bulk/", views.trash_bulk_create, name="trash_bulk_create"),
    path("bulk/<int:pk>/", views.trash_bulk_detail, name="trash_bulk_detail"),
    path("bulk/<int:pk>/cancel/", views.trash_bulk_cancel, name="trash_bulk_cancel"),
]
