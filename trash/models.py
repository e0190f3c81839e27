"""Messages that could not be processed, waiting for an operator."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from admin_ui.models import Tenant
from topology.models import Node, TopologyVersion


class TrashMessage(models.Model):
    """A message that failed at a node, with the reason and everything needed to resend it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESENT = "resent", "Resent"
        REJECTED = "rejected", "Rejected"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="trash")
    version = models.ForeignKey(TopologyVersion, on_delete=models.CASCADE, related_name="trash")
    node = models.ForeignKey(Node, null=True, on_delete=models.SET_NULL, related_name="trash")
    node_key = models.CharField(max_length=100)
    correlation_id = models.CharField(max_length=64, db_index=True)
    process_id = models.CharField(max_length=64, blank=True)
    message_id = models.CharField(max_length=64, db_index=True)
    headers = models.JSONField(default=dict)
    body = models.TextField(blank=True)
    reason = models.TextField()
    signature = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    attempts = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "created_at"])]


class TrashEdit(models.Model):
    """An operator's change to a trashed message, kept for audit."""

    message = models.ForeignKey(TrashMessage, on_delete=models.CASCADE, related_name="edits")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    before = models.JSONField()
    after = models.JSONField()
    at = models.DateTimeField(auto_now_add=True)
