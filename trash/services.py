"""Trash writes. The runtime captures failed messages here; the trash pages build on these services."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from trash.models import TrashMessage

_VOLATILE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24,}|\d+(\.\d+)?",
    re.IGNORECASE,
)


def trash_signature(*, reason: str, node_key: str) -> str:
    """sha256 of the reason with ids and numbers blanked, plus the node: identical failures group together."""
    normalised = _VOLATILE.sub("#", reason.strip().lower())
    normalised = re.sub(r"\s+", " ", normalised)[:2000]
    return hashlib.sha256(f"{node_key}\n{normalised}".encode()).hexdigest()


@transaction.atomic
def trash_message_create(
    *,
    tenant_id: int,
    version_id: int,
    node_id: int | None,
    node_key: str,
    correlation_id: str,
    process_id: str,
    message_id: str,
    headers: dict[str, Any],
    body: str,
    reason: str,
) -> TrashMessage:
    """Store a failed message; the same message failing again unchanged bumps `attempts` on its open row."""
    signature = trash_signature(reason=reason, node_key=node_key)
    # A resent message carries trash-id; without it, the same process branch at the same node is "the same message".
    trash_id = str(headers.get("trash-id") or "")
    existing = TrashMessage.objects.select_for_update().filter(
        tenant_id=tenant_id, node_key=node_key, status=TrashMessage.Status.OPEN, signature=signature, body=body
    )
    existing = (
        existing.filter(pk=int(trash_id))
        if trash_id.isdigit()
        else existing.filter(correlation_id=correlation_id, process_id=process_id)
    )
    row = existing.first()
    if row is not None:
        TrashMessage.objects.filter(pk=row.pk).update(
            attempts=F("attempts") + 1, updated_at=timezone.now(), headers=headers, message_id=message_id
        )
        row.refresh_from_db()
        return row
    return TrashMessage.objects.create(
        tenant_id=tenant_id,
        version_id=version_id,
        node_id=node_id,
        node_key=node_key,
        correlation_id=correlation_id,
        process_id=process_id,
        message_id=message_id,
        headers=headers,
        body=body,
        reason=reason,
        signature=signature,
    )
