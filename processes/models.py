"""Processes: runs of a topology version, their timelines and per-node minute counters."""

from __future__ import annotations

from django.db import models

from admin_ui.models import Tenant
from topology.models import Node, TopologyVersion


class Process(models.Model):
    """One run of a topology version, from its start message to its last branch."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        TERMINATED = "terminated", "Terminated"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="processes")
    version = models.ForeignKey(TopologyVersion, on_delete=models.CASCADE, related_name="processes")
    correlation_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS, db_index=True)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    trashed = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "started_at"])]


class ProcessEvent(models.Model):
    """One node run of a process, for its timeline."""

    process = models.ForeignKey(Process, on_delete=models.CASCADE, related_name="events")
    node_key = models.CharField(max_length=100)
    message_id = models.CharField(max_length=64)
    result_code = models.IntegerField(default=0)
    result_message = models.TextField(blank=True)
    started_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0)
    emitted = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["started_at", "id"]
        # The recorder looks runs up by message id to recognise redelivered duplicates.
        indexes = [models.Index(fields=["process", "message_id"], name="processevent_message")]


class NodeStat(models.Model):
    """Per-node counters for one minute, written in bulk by the recorder."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="stats")
    minute = models.DateTimeField()
    processed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    trashed = models.PositiveIntegerField(default=0)
    duration_ms_sum = models.FloatField(default=0)
    duration_ms_max = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "minute"], name="unique_node_minute")]
