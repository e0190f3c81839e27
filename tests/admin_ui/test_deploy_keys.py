"""Production refuses the development SECRET_KEY and FIELD_ENCRYPTION_KEY: `check --deploy` and the web process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from tests.admin_ui.test_deploy import check_deploy

ROOT = Path(__file__).resolve().parents[2]
REAL_KEYS = {"SECRET_KEY": secrets.token_urlsafe(64), "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode()}


def start_web(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    """Import the ASGI application the way a web server does, in a child process with these variables."""
    env = {**os.environ, "DEBUG": "false"}
    env.pop("FLOWYARD_ALLOW_DEV_KEYS", None)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", "import admin_ui.asgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_both_development_keys():
    result = check_deploy(SECRET_KEY=None, FIELD_ENCRYPTION_KEY=None, ALLOWED_HOSTS="x.example")
    assert result.returncode != 0
    assert "flowyard.E001" in result.stdout + result.stderr and "flowyard.E002" in result.stdout + result.stderr


def test_the_web_process_refuses_development_keys_without_debug():
    refused = start_web(SECRET_KEY=REAL_KEYS["SECRET_KEY"], FIELD_ENCRYPTION_KEY=None)
    assert refused.returncode != 0
    assert "FIELD_ENCRYPTION_KEY still hold the development keys and DEBUG is off" in refused.stderr


def test_the_web_process_starts_with_real_keys_or_on_a_declared_dev_box():
    assert start_web(**REAL_KEYS).returncode == 0
    dev = start_web(FLOWYARD_ALLOW_DEV_KEYS="true", SECRET_KEY=None, FIELD_ENCRYPTION_KEY=None)
    assert dev.returncode == 0, dev.stderr
