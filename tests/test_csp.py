"""Content-Security-Policy on every page (django-csp), and no inline script or event handler in any template."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
HANDLER_ATTR = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for attrs in SCRIPT_TAG.findall(text):
            if "src=" not in attrs and "application/json" not in attrs:
                offenders.append(f"{path.relative_to(TEMPLATES)}: <script{attrs}>")
        offenders += [f"{path.relative_to(TEMPLATES)}: {m.group(0)[:60]}" for m in HANDLER_ATTR.finditer(text)]
    assert not offenders, "move these into static/src/*.js:\n" + "\n".join(offenders)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["login", "signup", "password_reset", "topology_list", "api-docs", "healthz"])
def test_every_response_carries_a_strict_policy(alice_client, name):
    response = alice_client.get(reverse(name))
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


@pytest.mark.django_db
def test_api_docs_load_their_script_from_a_url_not_inline(alice_client):
    page = alice_client.get(reverse("api-docs")).content.decode()
    assert not [attrs for attrs in SCRIPT_TAG.findall(page) if "src=" not in attrs]
