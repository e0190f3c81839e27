"""Rate limits on calls to remote applications."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from admin_ui.models import Application, Tenant

MAX_AMOUNT = 1_000_000
MAX_SECONDS = 86_400


class Limit(models.Model):
    """At most `amount` calls per `seconds` for a tenant's application, or for all tenants when tenant is null."""

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="limits")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="limits")
    # The Redis key the engines count under: `<tenant id>|<application>`, or `|<application>` for a group.
    key = models.CharField(max_length=200, unique=True)
    amount = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_AMOUNT)])
    seconds = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_SECONDS)])

    class Meta:
        ordering = ["application__name", "tenant_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "application"], name="one_limit_per_tenant_application"),
            models.UniqueConstraint(
                fields=["application"], condition=Q(tenant__isnull=True), name="one_group_limit_per_application"
            ),
            models.CheckConstraint(condition=Q(amount__gte=1) & Q(seconds__gte=1), name="limit_rate_positive"),
        ]

    def __str__(self) -> str:
        scope = "all tenants" if self.is_group else "this tenant"
        return f"{self.application.name}: {self.amount} per {self.seconds} s ({scope})"

    @property
    def is_group(self) -> bool:
        return self.tenant_id is None

    @property
    def per_second(self) -> float:
        return self.amount / self.seconds
