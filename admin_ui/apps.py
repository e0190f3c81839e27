from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_applications(sender: AppConfig, **kwargs: Any) -> None:
    """Keep `Application` rows in step with the code registry after every migrate (and test flush)."""
    from admin_ui.applications import application_sync

    application_sync(using=kwargs.get("using", "default"))


class AdminUiConfig(AppConfig):
    name = "admin_ui"
    verbose_name = "Flowyard accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the OpenAPI extension for API token auth with drf-spectacular.
        from admin_ui import checks, schema  # noqa: F401

        post_migrate.connect(_sync_applications, sender=self, dispatch_uid="admin_ui.application_sync")
