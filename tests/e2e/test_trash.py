"""The trash workbench in the browser, against its own Daphne, engine and Celery worker (broker names of their own):
filter, open, edit in the JSON editor, see validation errors, fix, resend; bulk patch-and-resend a group and
watch the progress bar finish. Screenshots at 1440 and 390 px."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from admin_ui.models import Role
from processes.models import Process
from processes.services import process_start
from tests.e2e.conftest import ROOT, _free_port, _wait_for
from tests.factories import make_member, make_tenant
from tests.topology.runtime.harness import RuntimeEnv, celery_worker_argv, wait_process
from tests.topology.runtime_factories import DECLARED_QUEUES
from topology import services as topology_services
from topology.bpmn.build import build_bpmn
from topology.models import TopologyVersion
from topology.runtime.spec import build_version
from trash.models import TrashBulkJob, TrashMessage

SCHEMA = '{"type": "object", "required": ["email"], "properties": {"email": {"type": "string", "pattern": "@"}}}'
GROUP = 20


def order_bpmn() -> str:
    """New order → "Has email?" gateway (only a flow for orders with an email, so others go to the trash) →
    Sync order → Done."""
    return build_bpmn(
        [
            {"id": "Start_orders", "kind": "start.manual", "name": "New order"},
            {"id": "Gateway_email", "kind": "router", "name": "Has email?", "inputSchema": SCHEMA},
            {"id": "Python_sync", "kind": "python", "name": "Sync order", "registry": "flowyard.noop"},
            {"id": "End_done", "kind": "end", "name": "Done"},
        ],
        [
            {"source": "Start_orders", "target": "Gateway_email"},
            {"source": "Gateway_email", "target": "Python_sync", "condition": "email"},
            {"source": "Python_sync", "target": "End_done"},
        ],
        process_id="Process_orders",
        process_name="Orders",
    )


def _child(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _editor_text(page, text: str) -> None:
    """Replace the JSON editor's text the way a paste does (typing would trigger bracket auto-closing)."""
    content = page.locator("[data-json-editor] .cm-content")
    content.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


@pytest.mark.django_db(transaction=True)
def test_trash_workbench_end_to_end(browser, screenshot):
    with RuntimeEnv("e2etrash") as runtime:
        queue = f"fytest-celery-{uuid.uuid4().hex[:8]}"
        env = {**runtime.env(), "CELERY_QUEUE": queue, "DJANGO_SETTINGS_MODULE": "admin_ui.settings"}
        port = _free_port()
        web = _child(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "admin_ui.asgi:application"],
            env,
            Path(f"/tmp/{runtime.prefix}-daphne.log"),
        )
        worker = _child(
            celery_worker_argv(queue),
            env,
            Path(f"/tmp/{runtime.prefix}-celery.log"),
        )
        try:
            _wait_for("127.0.0.1", port, web)
            _walk(browser, screenshot, runtime, f"http://127.0.0.1:{port}", worker)
        finally:
            _stop(web)
            _stop(worker)
            conn, channel = runtime.channel()
            channel.queue_delete(queue=queue)
            channel.exchange_delete(exchange=queue)
            conn.close()


def _walk(browser, screenshot, runtime, url, worker) -> None:
    tenant = make_tenant("Trash Co")
    user = make_member(tenant, Role.OPERATOR, "operator@example.com")
    topology = topology_services.topology_create(tenant=tenant, name="Orders", actor=user, bpmn_xml=order_bpmn())
    version = TopologyVersion.objects.get(topology=topology)
    version = topology_services.topology_version_publish(version=version, actor=user)
    version = topology_services.topology_version_enable(version=version, actor=user)
    assert version.nodes.get(key="Gateway_email").config["inputSchema"] == SCHEMA
    # Enabled through the topology service: tell the harness which queues to delete afterwards.
    DECLARED_QUEUES.update(q for node in build_version(version).nodes.values() for q in node.queues())
    runtime.start_engine()
    runtime.wait_consumers([q for node in build_version(version).nodes.values() for q in node.queues()], timeout=60)
    started = [process_start(version=version, body={"id": n}) for n in range(GROUP + 1)]
    for process in started:
        assert wait_process(process.correlation_id, env=runtime, timeout=90).status == Process.Status.FAILED
    deadline = time.monotonic() + 120
    while runtime.consumers(worker.args[worker.args.index("-Q") + 1]) < 1:
        assert time.monotonic() < deadline, "the Celery worker did not start"
        time.sleep(0.2)

    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": url,
            }
        ]
    )
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Filter, then open the first message.
    page.goto("/trash/")
    page.get_by_label("Reason contains").fill("gateway condition")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_test_id("trash-row")
    expect(rows).to_have_count(GROUP + 1)
    expect(rows.first).to_contain_text("Has email?")
    screenshot(page, "trash-list-1440")
    rows.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/trash/\d+/$"))
    message = TrashMessage.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    expect(page.get_by_test_id("trash-reason")).to_contain_text("no gateway condition matched")
    expect(page.get_by_test_id("trash-diagram")).to_have_attribute("data-highlighted", "Gateway_email")
    expect(page.locator(".trash-failed-node")).to_have_count(1)
    screenshot(page, "trash-detail-1440")

    # Invalid JSON: Save, Try and Resend are disabled and the error says why.
    resend = page.get_by_test_id("resend")
    _editor_text(page, '{"id": 0, "email": }')
    expect(page.get_by_test_id("validation")).to_contain_text("Invalid JSON")
    expect(resend).to_be_disabled()
    expect(page.get_by_test_id("save")).to_be_disabled()
    screenshot(page, "trash-invalid-json-1440")

    # Valid JSON that breaks the node's input schema: the error points at the path.
    _editor_text(page, '{"id": 0, "email": "nobody"}')
    expect(page.get_by_test_id("validation")).to_contain_text("$.email")
    expect(resend).to_be_disabled()
    screenshot(page, "trash-schema-error-1440")

    # Fixed: try it on the node (nothing is published), then resend.
    _editor_text(page, '{"id": 0, "email": "a@example.com"}')
    expect(page.get_by_test_id("validation")).to_be_empty()
    expect(resend).to_be_enabled()
    page.get_by_test_id("try").click()
    expect(page.get_by_test_id("try-result")).to_contain_text("would pass")
    expect(page.get_by_test_id("try-result")).to_contain_text("Python_sync")
    resend.click()
    expect(page.get_by_test_id("trash-status")).to_have_text("Resent")
    process = wait_process(message.correlation_id, env=runtime, timeout=90)
    assert process.status == Process.Status.SUCCESS
    page.get_by_test_id("tab-history").click()
    expect(page.get_by_test_id("trash-history")).to_contain_text("$.body.email")
    expect(page.get_by_test_id("trash-history")).to_contain_text("operator@example.com")
    screenshot(page, "trash-history-1440")
    page.goto(f"/processes/{process.pk}/")
    page.get_by_test_id("process-trash-link").click()
    expect(page.get_by_test_id("trash-row")).to_have_count(1)

    # Narrow screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/trash/")
    screenshot(page, "trash-list-390")
    page.goto(f"/trash/{message.pk}/")
    expect(page.get_by_test_id("json-editor")).to_be_visible()
    screenshot(page, "trash-detail-390")
    page.set_viewport_size({"width": 1440, "height": 900})

    # Bulk: patch and resend the rest of the group, and watch the progress bar.
    page.goto("/trash/?view=groups")
    group = page.get_by_test_id("trash-group")
    expect(group).to_have_count(1)
    expect(group).to_contain_text(str(GROUP))
    screenshot(page, "trash-groups-1440")
    group.get_by_test_id("group-actions").click()
    form = group.locator("form")
    form.get_by_test_id("bulk-action").select_option("patch_resend")
    form.get_by_label("JSON path").fill("email")
    form.get_by_label("Value (JSON)").fill('"bulk@example.com"')
    form.get_by_label("Messages per second").select_option("10")
    form.get_by_test_id("bulk-submit").click()
    expect(page).to_have_url(re.compile(r"/trash/bulk/\d+/$"))
    percent = page.get_by_test_id("bulk-percent")
    expect(percent).not_to_have_text("0 %", timeout=10_000)
    expect(page.get_by_test_id("bulk-status")).to_have_text("Running")
    screenshot(page, "trash-bulk-running-1440")
    expect(percent).to_have_text("100 %", timeout=30_000)
    expect(page.get_by_test_id("bulk-status")).to_have_text("Done")
    expect(page.get_by_test_id("bulk-report")).to_contain_text(f"{GROUP} resent, 0 skipped, 0 failed")
    screenshot(page, "trash-bulk-done-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "trash-bulk-done-390")
    job = TrashBulkJob.objects.get(tenant=tenant)
    assert (job.status, job.succeeded) == ("done", GROUP)
    for process in started:
        assert wait_process(process.correlation_id, env=runtime, timeout=90).status == Process.Status.SUCCESS
    assert not errors, errors
    context.close()
