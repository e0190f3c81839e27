"""Live monitoring in the browser: a real engine and recorder, Daphne with the Redis channel layer, no reloads.

The test runs its own Daphne (on its own port) because it stops and restarts it to see the offline marker."""

from __future__ import annotations

import itertools
import json

import pytest

from admin_ui.models import Role
from processes.models import Process
from processes.services import process_start_many
from tests.e2e.conftest import _free_port, start_daphne, stop_daphne
from tests.factories import make_member, make_tenant
from tests.topology.runtime.harness import RuntimeEnv
from topology import services
from topology.bpmn.build import build_bpmn
from topology.models import TopologyVersion
from topology.runtime.spec import build_version

COUNT = 50
WIDE = {"width": 1440, "height": 1000}
PHONE = {"width": 390, "height": 844}


def _topology(tenant, user):
    nodes = [
        {"id": "Start", "kind": "start.manual", "name": "Order received"},
        {"id": "Check", "kind": "python", "name": "Check order", "registry": "flowyard.noop", "keepPayload": "true"},
        {"id": "Answer", "kind": "python", "name": "Call shop API", "registry": "test.answer"},
        {"id": "End", "kind": "end", "name": "Done"},
    ]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    xml = build_bpmn(nodes, edges, process_id="Process_orders", process_name="Orders")
    topology = services.topology_create(tenant=tenant, name="Orders", actor=user, bpmn_xml=xml)
    draft = TopologyVersion.objects.get(topology=topology)
    assert not draft.errors, draft.errors
    version = services.topology_version_publish(version=draft, actor=user)
    return topology, services.topology_version_enable(version=version, actor=user)


def _login(context, user, url):
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}])


def _shot(page, screenshot, name, viewport):
    page.set_viewport_size(viewport)
    page.evaluate("window.scrollTo(0, 0)")  # a sticky top bar would otherwise land mid-page
    page.wait_for_timeout(300)
    screenshot(page, f"{name}-{viewport['width']}")


@pytest.mark.django_db(transaction=True)
def test_monitor_and_process_list_update_live_and_survive_a_server_restart(browser, screenshot):
    tenant = make_tenant("Acme live")
    user = make_member(tenant, Role.OWNER, "ops@example.com")
    with RuntimeEnv("e2emonitor") as runtime:
        topology, version = _topology(tenant, user)
        runtime.start_engine()  # engine with its recorder thread, which also samples queue depths
        runtime.wait_consumers([q for node in build_version(version).nodes.values() for q in node.queues()])
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_daphne(port, runtime.env())
        try:
            context = browser.new_context(base_url=url, viewport=WIDE)
            context.set_default_timeout(20_000)
            _login(context, user, url)
            monitor = context.new_page()
            monitor.goto(f"/topologies/{topology.pk}/monitor/")
            monitor.wait_for_selector("[data-testid=live-status][data-state=live]")
            monitor.wait_for_selector("[data-testid=overlay-Check]")
            assert monitor.locator("[data-testid=overlay-Check]").get_attribute("data-state") == "idle"

            processes = context.new_page()
            processes.goto("/processes/")
            processes.wait_for_selector("[data-testid=live-status][data-state=live]")
            assert processes.locator("[data-testid=process-row]").count() == 0

            started = process_start_many(version=version, bodies=[json.dumps({"n": i}) for i in range(COUNT)])
            assert len(started) == COUNT

            # Without reloading: every node's overlay counts the 50 runs, and the list shows 50 successes.
            for key in ("Check", "Answer", "End"):
                monitor.wait_for_function(
                    "([key, n]) => document.querySelector(`[data-testid=overlay-${key}]`)?.dataset.processedHour == n",
                    arg=[key, COUNT],
                )
            processes.wait_for_function(
                "n => document.querySelectorAll('[data-testid=process-row][data-status=success]').length === n",
                arg=COUNT,
            )
            assert Process.objects.filter(version=version, status=Process.Status.SUCCESS).count() == COUNT
            # Queue depths are sampled once a second: the backlog of the 50 starts clears with the next sample.
            monitor.wait_for_function(
                "() => ['busy', 'idle'].includes(document.querySelector('[data-testid=overlay-Check]')?.dataset.state)",
                timeout=5000,
            )

            # Two runs that fail at "Call shop API": its node turns red, their rows turn failed.
            process_start_many(version=version, bodies=[json.dumps({"code": 1006, "message": "shop said no"})] * 2)
            monitor.wait_for_selector("[data-testid=overlay-Answer][data-state=failing]")
            processes.wait_for_function(
                "() => document.querySelectorAll('[data-testid=process-row][data-status=failed]').length === 2"
            )
            monitor.locator("[data-element-id=Answer]").first.click()
            monitor.wait_for_selector("[data-testid=node-detail]")
            assert monitor.locator("[data-testid=node-detail]").get_by_text("shop said no").count() >= 1

            for viewport in (WIDE, PHONE):
                _shot(monitor, screenshot, "monitor", viewport)
                _shot(processes, screenshot, "processes-live", viewport)
            failed = Process.objects.filter(version=version, status=Process.Status.FAILED).first()
            assert failed is not None
            detail = context.new_page()
            errors: list[str] = []
            detail.on("pageerror", lambda e: errors.append(str(e)))
            detail.goto(f"/processes/{failed.pk}/")
            detail.wait_for_selector("[data-testid=path-diagram] svg")
            assert not errors, errors
            detail.wait_for_selector("[data-testid=path-Answer]")
            assert detail.locator("[data-testid=timeline-row][data-code='1006']").count() == 1
            assert detail.locator("[data-testid=process-progress].is-failed").count() == 1
            assert detail.get_by_text("Call shop API").count() >= 1
            # Only "Check order" keeps payloads: one button, and the input appears on demand.
            assert detail.locator("[data-testid=show-payload]").count() == 1
            detail.locator("[data-testid=show-payload]").click()
            assert "shop said no" in detail.locator("[data-testid=payload]").inner_text()
            dashboard = context.new_page()
            dashboard.goto("/dashboard/")
            dashboard.wait_for_selector("[data-testid=chart-throughput][data-ready=true]")
            for viewport in (WIDE, PHONE):
                _shot(detail, screenshot, "process-page", viewport)
                _shot(dashboard, screenshot, "dashboard", viewport)
            dashboard.set_viewport_size(PHONE)
            dashboard.locator("[data-testid=nav-toggle]").click()
            assert dashboard.locator("#mainnav").is_visible()
            screenshot(dashboard, "nav-open-390")
            # The editor says it needs a wider screen instead of showing a sliver of canvas.
            dashboard.goto(f"/topologies/{topology.pk}/versions/{version.number}/edit/")
            assert dashboard.locator("[data-testid=editor-narrow]").is_visible()
            assert not dashboard.locator("[data-testid=topology-editor]").is_visible()
            screenshot(dashboard, "editor-390")

            # Server restart: the marker goes offline, then live again by itself, and updates resume.
            stop_daphne(server)
            processes.wait_for_selector("[data-testid=live-status][data-state=offline]")
            assert processes.locator("body.is-offline").count() == 1
            server = start_daphne(port, runtime.env())
            processes.wait_for_selector("[data-testid=live-status][data-state=live]", timeout=30_000)
            (late,) = process_start_many(version=version, bodies=[json.dumps({"n": "after restart"})])
            processes.wait_for_selector(
                f"[data-testid=process-row][data-correlation='{late.correlation_id}'][data-status=success]"
            )
            context.close()
        finally:
            stop_daphne(server)
