"""Process pages in the browser, with a real engine running the demo topology."""

import pytest

from processes.models import Process
from processes.services import process_start
from tests.topology.runtime.harness import RuntimeEnv, wait_process
from topology.models import TopologyVersion
from topology.runtime.spec import build_version
from topology.seed import seed_demo


@pytest.mark.django_db(transaction=True)
def test_processes_run_by_the_engine_show_up_with_their_timeline(page, login, screenshot):
    with RuntimeEnv("e2eprocesses") as runtime:
        demo = seed_demo()
        version = TopologyVersion.objects.get(topology__tenant=demo.tenant, enabled=True)
        runtime.start_engine()
        runtime.wait_consumers([q for node in build_version(version).nodes.values() for q in node.queues()])
        orders = [{"id": n, "customer": {"name": f"Customer {n}"}, "total": n * 10} for n in range(1, 6)]
        started = [process_start(version=version, body=order) for order in orders]
        finished = [wait_process(p.correlation_id, env=runtime) for p in started]
    assert {p.status for p in finished} == {Process.Status.SUCCESS}

    login(page, demo.tenant.memberships.get().user)
    page.goto("/processes/")
    rows = page.locator("table tbody tr")
    assert rows.count() == 5
    assert page.locator("table tbody").get_by_text("Success").count() == 5
    screenshot(page, "processes-list")

    page.goto(f"/processes/{finished[0].pk}/")
    assert page.get_by_text(finished[0].correlation_id).first.is_visible()
    timeline = page.locator("table").last
    for node_key in ("StartEvent_orders", "Transform_normalise", "Python_sync", "EndEvent_done"):
        assert timeline.get_by_text(node_key).count() >= 1
    screenshot(page, "process-detail")
