"""Rate limits on calls to remote applications."""

from __future__ import annotations

from django.db import models

from admin_ui.models import Application, Tenant


class Limit(models.Model):
    """At most `amount` calls per `seconds` for a tenant's application, or for all tenants when tenant is null."""

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="limits")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="limits")
    key = models.CharField(max_length=200, unique=True)
    amount = models.PositiveIntegerField()
    seconds = models.PositiveIntegerField()
