"""Demo account for `make run`: a tenant and its owner (the example topology is seeded by `topology.seed`)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from admin_ui.models import Membership, Role, Tenant

DEMO_EMAIL = "demo@flowyard.local"
DEMO_PASSWORD = "flowyard-demo"


@transaction.atomic
def seed_demo_account() -> tuple[Tenant, object]:
    """The demo tenant and its owner, created once."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=DEMO_EMAIL, defaults={"email": DEMO_EMAIL})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    tenant, _ = Tenant.objects.get_or_create(slug="demo", defaults={"name": "Demo"})
    Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": Role.OWNER})
    return tenant, user
