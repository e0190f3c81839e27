from django.apps import AppConfig


class LimiterConfig(AppConfig):
    name = "limiter"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from limiter.selectors import limit_rates_all
        from topology.runtime import limits

        # The runtime asks for limits through this hook instead of importing the limiter app.
        limits.set_loader(limit_rates_all)
