import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def check_deploy(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    """Run `manage.py check --deploy` in a child process with production-like environment overrides."""
    env = {**os.environ, "DEBUG": "false", "SECURE_HTTPS": "true"}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = check_deploy(
        SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="flowyard.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_development_secret_key():
    result = check_deploy(SECRET_KEY=None)
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def _database_options(**env: str) -> str:
    code = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS', {}).get('pool'))"
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "admin_ui.settings", **env}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_database_pool_is_opt_in_and_only_for_postgresql():
    postgres = "postgres://postgres@127.0.0.1:5432/flowyard"
    assert _database_options(DATABASE_URL=postgres, DATABASE_POOL="true", DATABASE_POOL_SIZE="7") == str(
        {"min_size": 1, "max_size": 7}
    )
    assert _database_options(DATABASE_URL=postgres, DATABASE_POOL="false") == "None"
    assert _database_options(DATABASE_URL="sqlite:///x.sqlite3", DATABASE_POOL="true") == "None"
