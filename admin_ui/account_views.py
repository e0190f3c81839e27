"""Placeholder account pages; the foundation work replaces these."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def signup(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_ui/form_page.html", {})


def tenant_create(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_ui/form_page.html", {})


def tenant_switch(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "admin_ui/form_page.html", {})


def tenant_settings(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_ui/form_page.html", {})


def install_list(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_ui/form_page.html", {})
