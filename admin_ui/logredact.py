"""Webhook tokens never reach a log: `/hooks/<token>` is written as `/hooks/<first 8 characters>…`.

Two ways a request path reaches the logs: Python logging (django.request's 4xx/5xx warnings, uvicorn's access
logger), filtered on the console handler; and Daphne's access log, which writes to a stream directly and is
replaced by `RedactingAccessLogGenerator` when the web process starts through `python -m admin_ui.web`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from daphne.access import AccessLogGenerator

HOOK_TOKEN = re.compile(r"(/hooks/)([A-Za-z0-9_\-]{8})[A-Za-z0-9_\-%]*")


def redact(text: str) -> str:
    return HOOK_TOKEN.sub(r"\1\2…", text)


class RedactWebhookTokens(logging.Filter):
    """A logging filter that rewrites webhook tokens in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingAccessLogGenerator(AccessLogGenerator):
    """Daphne's NCSA access log with webhook tokens redacted."""

    def write_entry(self, host: Any, date: Any, request: str, *args: Any, **kwargs: Any) -> None:
        super().write_entry(host, date, redact(str(request)), *args, **kwargs)
