from django.apps import AppConfig


class TrashConfig(AppConfig):
    name = "trash"
    default_auto_field = "django.db.models.BigAutoField"
