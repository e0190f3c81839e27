"""Webhook tokens are redacted from the web process's access log and from Django's request warnings."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from admin_ui.logredact import RedactWebhookTokens, redact
from tests.topology.runtime.harness import database_url

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "AbCdEfGh" + "x" * 35


def test_redact_keeps_only_a_prefix():
    assert redact(f'"POST /hooks/{TOKEN}" 404') == '"POST /hooks/AbCdEfGh…" 404'
    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "Not Found: %s", (f"/hooks/{TOKEN}",), None)
    RedactWebhookTokens().filter(record)
    assert TOKEN not in record.getMessage() and "/hooks/AbCdEfGh…" in record.getMessage()


@pytest.mark.django_db(transaction=True)
def test_the_web_process_logs_no_webhook_token(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "web.log"
    env = {**os.environ, "DATABASE_URL": database_url(), "FLOWYARD_ALLOW_DEV_KEYS": "true", "LOG_LEVEL": "INFO"}
    with log.open("wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "admin_ui.web", "-b", "127.0.0.1", "-p", str(port), "admin_ui.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(150):
                try:
                    response = requests.post(
                        f"http://127.0.0.1:{port}/hooks/{TOKEN}",
                        data="{}",
                        headers={"Content-Type": "application/json"},
                    )
                    break
                except requests.ConnectionError:
                    time.sleep(0.2)
            else:
                raise AssertionError(log.read_text())
            assert response.status_code == 404
            time.sleep(0.5)
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=20)
    text = log.read_text()
    assert "/hooks/AbCdEfGh…" in text  # the access log line is there,
    assert TOKEN not in text  # without the token
