from django.urls import path

from trash import views

urlpatterns = [
    path("", views.trash_list, name="trash_list"),
    path("<int:pk>/", views.trash_detail, name="trash_detail"),
]
