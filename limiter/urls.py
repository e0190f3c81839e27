from django.urls import path

from limiter import views

urlpatterns = [path("", views.limit_list, name="limit_list")]
