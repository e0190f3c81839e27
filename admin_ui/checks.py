"""System checks: production refuses the development SECRET_KEY and FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from admin_ui.settings import env_bool


def development_keys_in_use() -> list[str]:
    """Names of the settings that still hold the development key shipped in settings.py."""
    names = []
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        names.append("SECRET_KEY")
    if settings.FIELD_ENCRYPTION_KEY == settings.DEVELOPMENT_FIELD_ENCRYPTION_KEY:
        names.append("FIELD_ENCRYPTION_KEY")
    return names


@register(Tags.security, deploy=True)
def check_development_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: the development keys are public (they are in the repository)."""
    hints = {
        "SECRET_KEY": ("flowyard.E001", 'python -c "import secrets; print(secrets.token_urlsafe(64))"'),
        "FIELD_ENCRYPTION_KEY": (
            "flowyard.E002",
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
        ),
    }
    return [
        Error(f"{name} is the public development key.", hint=f"Set {name} from: {hints[name][1]}", id=hints[name][0])
        for name in development_keys_in_use()
    ]


def refuse_development_keys() -> None:
    """Called by the web process at start: without DEBUG, the development keys are a production misconfiguration."""
    # The environment is read again here: test runners set it after settings were loaded, for their child servers.
    if settings.DEBUG or settings.FLOWYARD_ALLOW_DEV_KEYS or env_bool("FLOWYARD_ALLOW_DEV_KEYS", False):
        return
    names = development_keys_in_use()
    if names:
        raise ImproperlyConfigured(
            f"{' and '.join(names)} still hold the development keys and DEBUG is off: set real keys (see "
            "`manage.py check --deploy`), or FLOWYARD_ALLOW_DEV_KEYS=true on a development machine."
        )
