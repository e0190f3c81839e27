"""Demo data for `make run`: a tenant, an owner and an example topology."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from admin_ui.models import Membership, Role, Tenant

DEMO_EMAIL = "demo@flowyard.local"
DEMO_PASSWORD = "flowyard-demo"


@dataclass
class SeedResult:
    tenant: Tenant
    email: str


@transaction.atomic
def seed_demo() -> SeedResult:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=DEMO_EMAIL, defaults={"email": DEMO_EMAIL})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    tenant, _ = Tenant.objects.get_or_create(slug="demo", defaults={"name": "Demo"})
    Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": Role.OWNER})
    from topology.seed import seed_example_topology

    seed_example_topology(tenant=tenant, actor=user)
    return SeedResult(tenant=tenant, email=DEMO_EMAIL)
