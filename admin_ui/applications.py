"""The code registry of application kinds: what each remote system needs to be installed by a tenant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from admin_ui.models import Application

MASK = "••••••••"


@dataclass(frozen=True)
class FieldSpec:
    """One setting of an application; `secret` ones are encrypted and never shown again."""

    name: str
    label: str
    kind: str = "text"  # text | url | select
    required: bool = True
    secret: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    default: str = ""
    help: str = ""
    # The field applies only when another field has one of these values, e.g. {"auth_type": ("basic",)}.
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def applies(self, values: Mapping[str, Any]) -> bool:
        return all(str(values.get(other, "")) in allowed for other, allowed in self.when.items())


@dataclass(frozen=True)
class ApplicationKind:
    """A kind of remote system, described by the fields a tenant fills in to install it."""

    key: str
    name: str
    description: str
    fields: tuple[FieldSpec, ...]
    icon: str = "⇄"

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def secret_names(self) -> set[str]:
        return {f.name for f in self.fields if f.secret}

    def clean(
        self, values: Mapping[str, Any], *, existing_secrets: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validate flat values; return (settings, secrets). A blank secret keeps its existing value."""
        existing_secrets = existing_secrets or {}
        errors: dict[str, list[str]] = {}
        unknown = sorted(set(values) - {f.name for f in self.fields})
        if unknown:
            errors["__all__"] = [f"Unknown field(s) for {self.name}: {', '.join(unknown)}."]
        # Defaults first, so that `when` conditions see e.g. the default auth type.
        merged = {f.name: f.default for f in self.fields if f.default}
        merged.update({k: v for k, v in values.items() if v is not None})
        settings: dict[str, Any] = {}
        secrets: dict[str, Any] = {}
        for spec in self.fields:
            if not spec.applies(merged):
                continue  # fields of another auth type are dropped, not kept as stale credentials
            raw = merged.get(spec.name, "")
            if not isinstance(raw, str):
                errors.setdefault(spec.name, []).append("Must be a string.")
                continue
            value = raw.strip()
            if spec.secret and not value and existing_secrets.get(spec.name):
                secrets[spec.name] = existing_secrets[spec.name]
                continue
            if not value:
                if spec.required:
                    errors.setdefault(spec.name, []).append(f"{spec.label} is required.")
                continue
            if spec.kind == "url":
                try:
                    URLValidator(schemes=["http", "https"])(value)
                except ValidationError:
                    errors.setdefault(spec.name, []).append("Enter a valid http(s) URL.")
                    continue
            if spec.kind == "select" and value not in {c for c, _ in spec.choices}:
                allowed = ", ".join(c for c, _ in spec.choices)
                errors.setdefault(spec.name, []).append(f"Choose one of: {allowed}.")
                continue
            (secrets if spec.secret else settings)[spec.name] = value
        if errors:
            raise ValidationError(errors)
        return settings, secrets


def mask_secret(value: Any) -> str:
    """`••••••••` for any set secret: no character of it reaches a page, an API answer or the audit log."""
    return MASK if str(value or "") else ""


AUTH_CHOICES = (
    ("none", "No authentication"),
    ("basic", "HTTP Basic"),
    ("bearer", "Bearer token"),
    ("api_key", "API key header"),
    ("oauth2_client_credentials", "OAuth 2 client credentials"),
)

HTTP_API = ApplicationKind(
    key="http-api",
    name="HTTP API",
    description="A generic HTTP/JSON API, with the authentication it needs.",
    icon="⇄",
    fields=(
        FieldSpec("base_url", "Base URL", kind="url", help="e.g. https://api.example.com/v1"),
        FieldSpec("auth_type", "Authentication", kind="select", choices=AUTH_CHOICES, default="none"),
        FieldSpec("username", "Username", when={"auth_type": ("basic",)}),
        FieldSpec("password", "Password", secret=True, when={"auth_type": ("basic",)}),
        FieldSpec("token", "Bearer token", secret=True, when={"auth_type": ("bearer",)}),
        FieldSpec(
            "header_name",
            "Header name",
            default="X-API-Key",
            when={"auth_type": ("api_key",)},
            help="Sent with the key",
        ),
        FieldSpec("api_key", "API key", secret=True, when={"auth_type": ("api_key",)}),
        FieldSpec("token_url", "Token URL", kind="url", when={"auth_type": ("oauth2_client_credentials",)}),
        FieldSpec("client_id", "Client ID", when={"auth_type": ("oauth2_client_credentials",)}),
        FieldSpec("client_secret", "Client secret", secret=True, when={"auth_type": ("oauth2_client_credentials",)}),
        FieldSpec(
            "scope",
            "Scope",
            required=False,
            when={"auth_type": ("oauth2_client_credentials",)},
            help="Space-separated, optional",
        ),
    ),
)

SLACK_WEBHOOK = ApplicationKind(
    key="slack-webhook",
    name="Slack incoming webhook",
    description="Post messages to a Slack channel through an incoming webhook URL.",
    icon="#",
    fields=(
        FieldSpec("channel", "Channel", required=False, help="Shown in pages only, e.g. #alerts"),
        FieldSpec("webhook_url", "Webhook URL", kind="url", secret=True),
    ),
)

REGISTRY: dict[str, ApplicationKind] = {kind.key: kind for kind in (HTTP_API, SLACK_WEBHOOK)}


def get_kind(key: str) -> ApplicationKind | None:
    return REGISTRY.get(key)


def application_sync(*, using: str = "default") -> int:
    """Create or update one `Application` row per registered kind; safe to run on every migrate."""

    rows = Application.objects.using(using)
    changed = 0
    for kind in REGISTRY.values():
        _, created = rows.get_or_create(key=kind.key, defaults={"name": kind.name, "description": kind.description})
        if created:
            changed += 1
            continue
        stale = rows.filter(key=kind.key).exclude(name=kind.name, description=kind.description)
        changed += stale.update(name=kind.name, description=kind.description)
    return changed
