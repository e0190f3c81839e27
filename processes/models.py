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

    @property
    def duration_label(self) -> str:
        """How long the run took, in the largest unit that reads well ("87 ms", "4.2 s", "3 min")."""
        if self.finished_at is None:
            return ""
        ms = max(0.0, (self.finished_at - self.started_at).total_seconds() * 1000)
        if ms < 1000:
            return f"{ms:.0f} ms"
        if ms < 60_000:
            return f"{ms / 1000:.1f} s"
        if ms < 3_600_000:
            return f"{ms / 60_000:.0f} min"
        return f"{ms / 3_600_000:.1f} h"


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


class JoinState(models.Model):
    """Arrivals a join node has collected for one process branch; durable so joins survive Redis and engine loss."""

    key = models.CharField(max_length=64, unique=True)
    # {previous node key: JSON body}; the first arrival per incoming branch wins, redeliveries change nothing.
    arrivals = models.JSONField(default=dict)
    # Incoming branches that stopped with 1003 before the join ("branch stopped" arrivals): they complete the set
    # but are left out of the merge (topology/runtime/joins.py).
    skipped = models.JSONField(default=list)
    # Message id of the arrival that completed the set: only it (and its redeliveries) emits the merge.
    completed_by = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class ProcessPayload(models.Model):
    """A run's input and outputs, kept only for nodes with `keepPayload` on (payloads can hold personal data)."""

    process = models.ForeignKey(Process, on_delete=models.CASCADE, related_name="payloads")
    node_key = models.CharField(max_length=100)
    message_id = models.CharField(max_length=64)
    body_in = models.TextField(blank=True)
    bodies_out = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["process", "message_id"], name="processpayload_message")]
