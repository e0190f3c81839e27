"""Creates the demo tenant, user and example topology; safe to run again."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from topology.seed import seed_demo


class Command(BaseCommand):
    help = "Seed a demo tenant, user and example topology (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        result = seed_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo ready: tenant '{result.tenant.name}', login {result.email}"))
