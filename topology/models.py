"""Topologies, their versions, nodes, edges and webhooks: the definition side of an integration."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from admin_ui.models import ApplicationInstall, Tenant
from topology import kinds


class Topology(models.Model):
    """A named integration of one tenant; its diagrams live in versions."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="topologies")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], condition=models.Q(deleted_at__isnull=True), name="unique_live_topology_name"
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TopologyVersion(models.Model):
    """One numbered diagram of a topology; drafts are editable, published ones are frozen."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    topology = models.ForeignKey(Topology, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    bpmn_xml = models.TextField()
    # The BPMN process Flowyard runs when the file holds several (picked at import); "" before the first parse.
    process_id = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    enabled = models.BooleanField(default=False)
    content_hash = models.CharField(max_length=64, blank=True)
    errors = models.JSONField(default=list, blank=True)
    unsupported = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    enabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["topology", "number"], name="unique_version_number"),
            models.UniqueConstraint(
                fields=["topology"], condition=models.Q(enabled=True), name="one_enabled_version_per_topology"
            ),
        ]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.topology.name} v{self.number}"

    @property
    def tenant_id(self) -> int:
        return self.topology.tenant_id

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT


class Node(models.Model):
    """One step of a version's diagram; `key` is the BPMN element id, `config` its Flowyard attributes."""

    # Members and labels come from the kind registry (`topology/kinds.py`): START_MANUAL = "start.manual", …
    Kind = models.TextChoices("Kind", [(k.replace(".", "_").upper(), (k, d.label)) for k, d in kinds.KINDS.items()])  # type: ignore[call-overload]

    version = models.ForeignKey(TopologyVersion, on_delete=models.CASCADE, related_name="nodes")
    key = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    config = models.JSONField(default=dict, blank=True)
    install = models.ForeignKey(ApplicationInstall, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ordered = models.BooleanField(default=False)
    prefetch = models.PositiveSmallIntegerField(default=10)
    retry = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="unique_node_key")]

    def __str__(self) -> str:
        return self.name or self.key


class Edge(models.Model):
    """A sequence flow between two nodes, with an optional JMESPath condition."""

    version = models.ForeignKey(TopologyVersion, on_delete=models.CASCADE, related_name="edges")
    key = models.CharField(max_length=100)
    source = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="outgoing")
    target = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="incoming")
    condition = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    name = models.CharField(max_length=200, blank=True)


class Webhook(models.Model):
    """A secret URL that starts a topology at a webhook start node; only the token's hash is kept."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhooks")
    topology = models.ForeignKey(Topology, on_delete=models.CASCADE, related_name="webhooks")
    node_key = models.CharField(max_length=100)
    hashed_token = models.CharField(max_length=64, unique=True)
    # Kept encrypted (not only hashed) so editors can see the URL again on the topology page.
    token_encrypted = models.TextField(blank=True)
    prefix = models.CharField(max_length=12)
    # Optional HMAC-SHA256 key (encrypted): when set, intake requires X-Flowyard-Signature: sha256=<hex of the body>.
    signing_secret_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
