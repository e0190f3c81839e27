from django.urls import path

from topology import views

urlpatterns = [
    path("topologies/", views.topology_list, name="topology_list"),
    path("processes/", views.process_list, name="process_list"),
]
