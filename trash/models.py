"""Messages that could not be processed, waiting for an operator; their history and bulk jobs."""

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
    # Bumped by every operator change (edit, resend, reject) and by a new failure: a bulk job or an edit form
    # that read an older revision knows someone else changed the row meanwhile and leaves it alone.
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "status", "created_at"]),
            models.Index(fields=["tenant", "signature", "status"], name="trash_group"),
        ]

    def __str__(self) -> str:
        return f"trash #{self.pk} at {self.node_key}"

    @property
    def node_name(self) -> str:
        """The failed node's name (its BPMN id when it has none); pages may set it from a name map they hold."""
        named: str = self.__dict__.get("_node_name", "")
        return named or (self.node.name if self.node_id is not None and self.node is not None else "") or self.node_key

    @node_name.setter
    def node_name(self, value: str) -> None:
        self.__dict__["_node_name"] = value


class TrashEdit(models.Model):
    """One entry of a message's history: an edit (with before/after), a resend, a reject, or a new failure."""

    class Action(models.TextChoices):
        EDIT = "edit", "Edited"
        RESEND = "resend", "Resent"
        REJECT = "reject", "Rejected"
        FAILED = "failed", "Failed again"

    message = models.ForeignKey(TrashMessage, on_delete=models.CASCADE, related_name="edits")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.EDIT)
    note = models.TextField(blank=True)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    diff = models.JSONField(default=list, blank=True)
    bulk_job = models.ForeignKey("TrashBulkJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]


class TrashBulkJob(models.Model):
    """A bulk resend/reject/patch over a snapshot of trash rows, run by a Celery task with a throttle."""

    class Action(models.TextChoices):
        RESEND = "resend", "Resend"
        REJECT = "reject", "Reject"
        PATCH_RESEND = "patch_resend", "Patch and resend"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="trash_bulk_jobs")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    # The group (failure signature) the job works on, or "selection" for picked rows and filters: one active
    # job per tenant and group keeps two operators from resending the same failures twice.
    group_key = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    params = models.JSONField(default=dict, blank=True)
    # {message id: revision} when the job was created; rows whose revision moved on are skipped.
    snapshot = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "group_key"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_trash_bulk_job_per_group",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.total} messages"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, int(self.processed * 100 / self.total))

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE
