from django.apps import AppConfig


class LimiterConfig(AppConfig):
    name = "limiter"
    default_auto_field = "django.db.models.BigAutoField"
