"""The example topology of the demo tenant (filled in by the editor work)."""

from __future__ import annotations

from typing import Any

from admin_ui.models import Tenant


def seed_example_topology(*, tenant: Tenant, actor: Any) -> None:
    return None
