"""The bpmn-js topology editor in a real browser: build a diagram with the mouse, edit properties, save,
validation markers, publish / enable, export and re-import, read-only viewers and tenant isolation."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from admin_ui.models import Role
from tests.factories import make_member, make_tenant
from tests.topology.factories import FIXTURES, invalid_xml, make_install, valid_xml
from topology import kinds, services
from topology.bpmn.build import build_bpmn
from topology.models import Edge, Node, Topology, TopologyVersion
from topology.runtime.retry import RetryPolicy

EMPTY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:flowyard="http://flowyard.io/schema/bpmn/1.0"
  id="Definitions_1" targetNamespace="http://flowyard.io/schema/bpmn">
  <bpmn:process id="Process_1" isExecutable="true" />
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_1" />
  </bpmndi:BPMNDiagram>
</bpmn:definitions>"""

DIAGRAM_JS = """() => window.flowyardEditor.modeler.get('elementRegistry')
  .filter(e => !e.labelTarget && e.type !== 'bpmn:Process')
  .map(e => ({id: e.id, type: e.type, kind: e.businessObject.get('flowyard:kind') || '',
              name: e.businessObject.name || '', source: e.source ? e.source.id : null,
              target: e.target ? e.target.id : null}))"""


def open_editor(page, topology: Topology, number: int = 1):
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    response = page.goto(f"/topologies/{topology.pk}/versions/{number}/edit/")
    try:
        page.wait_for_function("() => window.flowyardEditor && window.flowyardEditor.lastLoadMs !== null")
    except Exception as exc:
        raise AssertionError(f"the editor did not load: {problems}") from exc
    return response


def diagram(page) -> list[dict[str, Any]]:
    return page.evaluate(DIAGRAM_JS)


def by_kind(page, kind: str) -> dict[str, Any]:
    matches = [e for e in diagram(page) if e["kind"] == kind]
    assert len(matches) == 1, matches
    return matches[0]


def center(page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag_from_palette(page, kind: str, x: float, y: float) -> None:
    """STYLE.md pattern: diagram-js needs a small first move before the real one."""
    sx, sy = center(page, f'.djs-palette [data-action="create.{kind}"]')
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(sx + 10, sy + 10)
    page.mouse.move(x, y, steps=5)
    page.mouse.up()
    # diagram-js swallows the "ghost" click for 400 ms after a drag; the next real click must come later.
    page.wait_for_timeout(450)


def element_selector(element_id: str) -> str:
    return f'.djs-element.djs-shape[data-element-id="{element_id}"]'


def select(page, element_id: str) -> None:
    """Click an element unless it is already selected (diagram-js toggles the selection on a second click)."""
    selected = page.evaluate(
        "id => window.flowyardEditor.modeler.get('selection').get().map(e => e.id).join(',') === id", element_id
    )
    if not selected:
        page.locator(element_selector(element_id)).click()


def connect(page, source_id: str, target_id: str) -> None:
    """Select the source, then drag from its context pad's connect entry onto the target."""
    select(page, source_id)
    sx, sy = center(page, '.djs-context-pad [data-action="connect"]')
    tx, ty = center(page, element_selector(target_id))
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(sx + 10, sy + 10)
    page.mouse.move(tx, ty, steps=5)
    page.mouse.up()
    page.wait_for_timeout(450)


FLOW_POINT_JS = """id => {
  const m = window.flowyardEditor.modeler;
  const wps = m.get('elementRegistry').get(id).waypoints;
  let best = null;
  for (let i = 1; i < wps.length; i++) {
    const len = Math.hypot(wps[i].x - wps[i - 1].x, wps[i].y - wps[i - 1].y);
    if (!best || len > best.len) best = {len, x: (wps[i].x + wps[i - 1].x) / 2, y: (wps[i].y + wps[i - 1].y) / 2};
  }
  const vb = m.get('canvas').viewbox();
  const rect = document.querySelector('#fy-canvas').getBoundingClientRect();
  return [rect.left + (best.x - vb.x) * vb.scale, rect.top + (best.y - vb.y) * vb.scale];
}"""


def click_flow(page, flow_id: str) -> None:
    """Click the middle of a sequence flow's longest segment (its bounding box centre may be off the line)."""
    x, y = page.evaluate(FLOW_POINT_JS, flow_id)
    page.mouse.click(x, y)


def save(page) -> None:
    page.keyboard.press("Control+s")
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile(r"^Saved"))


def canvas_point(page, fx: float, fy: float) -> tuple[float, float]:
    box = page.get_by_test_id("editor-canvas").bounding_box()
    assert box is not None
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


@pytest.mark.django_db(transaction=True)
def test_build_a_diagram_with_the_mouse_save_and_reload(page, live_server, login, screenshot):
    tenant = make_tenant("Editor Co")
    user = make_member(tenant, Role.EDITOR, "editor@example.com")
    install = make_install(tenant, name="Shop API")
    topology = services.topology_create(tenant=tenant, name="Orders", actor=user, bpmn_xml=EMPTY_XML)
    login(page, user)
    open_editor(page, topology)
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # bpmn.io licence watermark
    screenshot(page, "editor-empty")

    drag_from_palette(page, "start.webhook", *canvas_point(page, 0.3, 0.4))
    drag_from_palette(page, "connector", *canvas_point(page, 0.5, 0.4))
    drag_from_palette(page, "end", *canvas_point(page, 0.7, 0.4))
    start, task, end = by_kind(page, "start.webhook"), by_kind(page, "connector"), by_kind(page, "end")
    assert (start["type"], task["type"], end["type"]) == ("bpmn:StartEvent", "bpmn:ServiceTask", "bpmn:EndEvent")
    # Each kind is drawn with its own badge on top of the BPMN shape.
    expect(page.locator(f"{element_selector(task['id'])} .fy-badge text")).to_have_text("HTTP")

    connect(page, start["id"], task["id"])
    connect(page, task["id"], end["id"])
    flows = [(e["source"], e["target"]) for e in diagram(page) if e["type"] == "bpmn:SequenceFlow"]
    assert sorted(flows) == sorted([(start["id"], task["id"]), (task["id"], end["id"])])

    # Properties of the connector.
    select(page, task["id"])
    panel = page.get_by_test_id("properties-panel")
    expect(panel.locator(".fy-panel-sub")).to_contain_text("Connector")
    panel.locator("[name=name]").fill("Create order")
    expect(panel.locator(f'select[name=install] option[value="{install.pk}"]')).to_have_count(1)
    panel.locator("select[name=install]").select_option(str(install.pk))
    panel.locator("select[name=method]").select_option("PUT")
    panel.locator("[name=path]").fill("/orders")
    panel.locator("[name=prefetch]").fill("5")
    save(page)
    screenshot(page, "editor-diagram")

    version = TopologyVersion.objects.get(topology=topology, number=1)
    nodes = {n.key: n for n in Node.objects.filter(version=version)}
    assert {n.kind for n in nodes.values()} == {"start.webhook", "connector", "end"}
    connector = nodes[task["id"]]
    assert connector.name == "Create order"
    assert connector.install_id == install.pk
    assert connector.prefetch == 5
    assert connector.config["method"] == "PUT" and connector.config["path"] == "/orders"
    assert Edge.objects.filter(version=version).count() == 2
    assert version.errors == [], version.errors

    page.reload()
    page.wait_for_function("() => window.flowyardEditor && window.flowyardEditor.lastLoadMs !== null")
    reloaded = {e["id"]: e for e in diagram(page)}
    assert reloaded[task["id"]]["name"] == "Create order"
    assert reloaded[start["id"]]["kind"] == "start.webhook"
    assert len([e for e in reloaded.values() if e["type"] == "bpmn:SequenceFlow"]) == 2
    select(page, task["id"])
    expect(panel.locator("[name=path]")).to_have_value("/orders")
    expect(panel.locator("select[name=install]")).to_have_value(str(install.pk))

    # Undo through the toolbar, then the unsaved-changes state appears; redo brings it back.
    panel.locator("[name=path]").fill("/orders/v2")
    panel.locator("[name=path]").press("Tab")
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile("Unsaved|Saving|Saved"))
    page.locator("[data-action=undo]").click()
    expect(panel.locator("[name=path]")).to_have_value("/orders")
    page.locator("[data-action=redo]").click()
    expect(panel.locator("[name=path]")).to_have_value("/orders/v2")
    # Drafts auto-save about two seconds after the last change, without Ctrl+S.
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile(r"^Saved"), timeout=10_000)
    assert Node.objects.get(version=version, key=task["id"]).config["path"] == "/orders/v2"

    # Ctrl+F opens bpmn-js's element search.
    page.locator("[data-action=search]").click()
    expect(page.locator(".djs-search-container input")).to_be_visible()
    page.keyboard.press("Escape")


@pytest.mark.django_db(transaction=True)
def test_invalid_diagram_shows_markers_and_publish_is_refused_until_fixed(page, live_server, login, screenshot):
    tenant = make_tenant("Broken Co")
    user = make_member(tenant, Role.EDITOR, "broken@example.com")
    topology = services.topology_create(tenant=tenant, name="Mapper", actor=user, bpmn_xml=invalid_xml())
    login(page, user)
    open_editor(page, topology)

    marked = page.locator('.djs-element.fy-has-error[data-element-id="T"]')
    expect(marked).to_have_count(1)
    problems = page.get_by_test_id("problems")
    expect(problems.locator(".fy-problem-error")).to_contain_text(["JMESPath expression is required"])
    # Hovering the red badge shows the message next to the element.
    page.locator('.fy-problem-badge[data-element-id="T"]').hover()
    expect(page.locator('.fy-problem-badge[data-element-id="T"] .fy-problem-tip')).to_be_visible()
    screenshot(page, "editor-errors")

    page.locator("[data-action=publish]").click()
    expect(page.locator(".fy-toast-item.flash-error")).to_be_visible()
    expect(page.get_by_test_id("version-status")).to_have_text("Draft")
    assert TopologyVersion.objects.get(topology=topology, number=1).status == "draft"

    # Clicking the problem selects the element; fixing the field clears the marker after a save.
    problems.locator(".fy-problem-error", has_text="JMESPath").click()
    panel = page.get_by_test_id("properties-panel")
    expect(panel.locator(".fy-panel-title")).to_have_text("Map")
    expect(panel.locator('.fy-field.has-error[data-field="expression"]')).to_have_count(1)
    panel.locator("[name=expression]").fill("{id: id}")
    save(page)
    expect(marked).to_have_count(0)
    expect(problems.locator(".fy-problem-error")).to_have_count(0)

    page.locator("[data-action=publish]").click()
    expect(page.get_by_test_id("version-status")).to_have_text("Published")
    page.locator("[data-action=enable]").click()
    expect(page.get_by_test_id("version-enabled")).to_have_text("Enabled")
    version = TopologyVersion.objects.get(topology=topology, number=1)
    assert version.status == "published" and version.enabled

    # Editing the published version saves a new draft and the editor follows it (URL and badges).
    select(page, "T")
    panel.locator("[name=name]").fill("Map v2")
    save(page)
    expect(page.get_by_test_id("version-status")).to_have_text("Draft")
    assert page.url.endswith(f"/topologies/{topology.pk}/versions/2/edit/")
    assert page.evaluate("window.flowyardEditor.config.saveUrl").endswith("/versions/2/xml/")
    assert Node.objects.get(version__topology=topology, version__number=2, key="T").name == "Map v2"
    assert Node.objects.get(version__topology=topology, version__number=1, key="T").name == "Map"


@pytest.mark.django_db(transaction=True)
def test_cron_start_previews_next_runs(page, live_server, login):
    tenant = make_tenant("Cron Co")
    user = make_member(tenant, Role.EDITOR, "cron@example.com")
    topology = services.topology_create(tenant=tenant, name="Nightly", actor=user)
    login(page, user)
    open_editor(page, topology)
    select(page, "StartEvent_1")
    panel = page.get_by_test_id("properties-panel")
    panel.locator("select[name=kind]").select_option("start.cron")
    # The kind change replaced the element with a timer start event and kept it selected.
    expect(panel.locator(".fy-panel-sub")).to_contain_text("Cron start")
    panel.locator("[name=cron]").fill("0 9 * * mon-fri")
    runs = panel.get_by_test_id("cron-next").locator("li")
    expect(runs).to_have_count(3)
    expect(runs.first).to_contain_text("09:00 UTC")
    panel.locator("[name=cron]").fill("61 * * * *")
    expect(panel.get_by_test_id("cron-next")).to_contain_text("out of range")
    panel.locator("[name=cron]").fill("*/30 * * * *")
    save(page)
    start = Node.objects.get(version__topology=topology, version__number=1, kind="start.cron")
    assert start.config["cron"] == "*/30 * * * *"


@pytest.mark.django_db(transaction=True)
def test_export_and_reimport_gives_the_same_nodes(page, live_server, login, tmp_path):
    tenant = make_tenant("Export Co")
    user = make_member(tenant, Role.EDITOR, "export@example.com")
    source = services.topology_create(tenant=tenant, name="Source", actor=user, bpmn_xml=valid_xml("Echo"))
    target = services.topology_create(tenant=tenant, name="Target", actor=user)
    login(page, user)
    open_editor(page, source)
    with page.expect_download() as download_info:
        page.locator("[data-action=export]").click()
    path = tmp_path / "source.bpmn"
    download_info.value.save_as(path)
    assert "flowyard:kind" in path.read_text()

    open_editor(page, target)
    page.locator("#fy-import-file").set_input_files(str(path))
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile(r"^Saved"))

    def node_set(topology: Topology) -> set[tuple[str, str, str]]:
        return set(
            Node.objects.filter(version__topology=topology, version__number=1).values_list("key", "kind", "name")
        )

    assert node_set(target) == node_set(source)
    assert len(node_set(target)) == 3


@pytest.mark.django_db(transaction=True)
def test_viewer_gets_a_read_only_editor_and_other_tenants_get_404(page, new_page, live_server, login, screenshot):
    tenant = make_tenant("Owner Co")
    owner = make_member(tenant, Role.OWNER, "owner@example.com")
    viewer = make_member(tenant, Role.VIEWER, "viewer@example.com")
    topology = services.topology_create(tenant=tenant, name="Shared", actor=owner, bpmn_xml=valid_xml())

    login(page, viewer)
    open_editor(page, topology)
    expect(page.locator(".djs-palette")).to_have_count(0)
    expect(page.locator("[data-action=save]")).to_have_count(0)
    select(page, "Py")
    expect(page.get_by_test_id("properties-panel").locator("select[name=registry]")).to_be_disabled()
    screenshot(page, "editor-readonly")
    # Navigation still works read-only: zoom and the minimap.
    zoom_before = page.evaluate("window.flowyardEditor.modeler.get('canvas').zoom()")
    page.locator("[data-action=zoom-in]").click()
    assert page.evaluate("window.flowyardEditor.modeler.get('canvas').zoom()") > zoom_before
    page.locator("[data-action=minimap]").click()
    expect(page.locator(".djs-minimap.open")).to_be_visible()

    other = new_page()
    login(other, make_member(make_tenant("Other Co"), Role.OWNER, "other@example.com"))
    response = other.goto(f"/topologies/{topology.pk}/versions/1/edit/")
    assert response is not None and response.status == 404


@pytest.mark.django_db(transaction=True)
def test_router_flows_get_conditions_and_a_default(page, live_server, login, screenshot):
    tenant = make_tenant("Router Co")
    user = make_member(tenant, Role.EDITOR, "router@example.com")
    nodes = [
        {"id": "Start", "kind": "start.manual", "name": "Start"},
        {"id": "Route", "kind": "router", "name": "Route"},
        {"id": "Paid", "kind": "end", "name": "Paid"},
        {"id": "Other", "kind": "end", "name": "Other"},
    ]
    edges = [
        {"id": "Flow_in", "source": "Start", "target": "Route"},
        {"id": "Flow_paid", "source": "Route", "target": "Paid"},
        {"id": "Flow_other", "source": "Route", "target": "Other"},
    ]
    topology = services.topology_create(tenant=tenant, name="Router", actor=user, bpmn_xml=build_bpmn(nodes, edges))
    assert len(TopologyVersion.objects.get(topology=topology).errors) == 2  # both flows lack a condition
    login(page, user)
    open_editor(page, topology)
    panel = page.get_by_test_id("properties-panel")

    click_flow(page, "Flow_paid")
    panel.locator("[name=condition]").fill("status == 'paid'")
    click_flow(page, "Flow_other")
    panel.locator("[name=default]").check()
    # The flow from the start event is not routed: no condition field there.
    click_flow(page, "Flow_in")
    expect(panel.locator(".fy-panel-sub")).to_contain_text("Sequence flow")
    expect(panel.locator("[name=condition]")).to_have_count(0)
    save(page)
    expect(page.get_by_test_id("problems").locator(".fy-problem-error")).to_have_count(0)
    click_flow(page, "Flow_paid")
    screenshot(page, "editor-router")

    edges_saved = {e.key: e for e in Edge.objects.filter(version__topology=topology)}
    assert edges_saved["Flow_paid"].condition == "status == 'paid'"
    assert edges_saved["Flow_other"].is_default and not edges_saved["Flow_paid"].is_default


@pytest.mark.django_db(transaction=True)
def test_unsupported_elements_are_listed_as_warnings(page, live_server, login):
    tenant = make_tenant("Legacy Co")
    user = make_member(tenant, Role.EDITOR, "legacy@example.com")
    nodes = [
        {"id": "Start", "kind": "start.manual", "name": "Start"},
        {"id": "Mail", "tag": "sendTask", "name": "Send mail"},
        {"id": "End", "kind": "end", "name": "End"},
    ]
    edges = [{"source": "Start", "target": "Mail"}, {"source": "Mail", "target": "End"}]
    topology = services.topology_create(tenant=tenant, name="Legacy", actor=user, bpmn_xml=build_bpmn(nodes, edges))
    assert TopologyVersion.objects.get(topology=topology).unsupported
    login(page, user)
    open_editor(page, topology)
    warning = page.get_by_test_id("problems").locator(".fy-problem-warning")
    expect(warning).to_contain_text("Send tasks are not supported")
    expect(page.locator('.djs-element.fy-has-warning[data-element-id="Mail"]')).to_have_count(1)
    warning.click()
    expect(page.get_by_test_id("properties-panel").locator(".fy-panel-title")).to_have_text("Send mail")


PANEL_JS = """id => {
  const m = window.flowyardEditor.modeler;
  m.get('selection').select(m.get('elementRegistry').get(id));
  return [...document.querySelectorAll('#fy-panel details[data-section]')].map(d => [
    d.dataset.section, [...d.querySelectorAll('[data-field]')].map(f => f.dataset.field)]);
}"""


def expected_panel(kind: kinds.Kind) -> list[list[Any]]:
    sections = [["General", ["name", "kind"]]]
    for section in kind.sections:
        fields = [f.name for f in section.fields] + ([f"{kind.name}-note"] if section.note else [])
        sections.append([section.title, fields])
    return sections


@pytest.mark.django_db(transaction=True)
def test_palette_and_panel_list_exactly_the_registered_kinds_and_fields(page, live_server, login, screenshot):
    tenant = make_tenant("Registry Co")
    user = make_member(tenant, Role.EDITOR, "registry@example.com")
    nodes = [{"id": f"N_{kind.replace('.', '_')}", "kind": kind, "name": kind} for kind in kinds.KINDS]
    topology = services.topology_create(tenant=tenant, name="All kinds", actor=user, bpmn_xml=build_bpmn(nodes, []))
    login(page, user)
    open_editor(page, topology)
    palette = page.locator('.djs-palette [data-action^="create."]')
    actions = [palette.nth(i).get_attribute("data-action") for i in range(palette.count())]
    assert actions == [f"create.{k.name}" for g, _ in kinds.GROUPS for k in kinds.KINDS.values() if k.group == g]
    for node in nodes:
        spec = kinds.KINDS[node["kind"]]
        assert page.evaluate(PANEL_JS, node["id"]) == expected_panel(spec), node["kind"]
        # Each kind is drawn with the registry's badge.
        expect(page.locator(f"{element_selector(node['id'])} .fy-badge text")).to_have_text(spec.badge)
    # The engine ignores a timeout on these kinds, so the panel does not offer one.
    for kind in ("python", "join", "transform"):
        assert "timeout" not in str(page.evaluate(PANEL_JS, f"N_{kind}"))
    page.evaluate(PANEL_JS, "N_connector")
    screenshot(page, "editor-panel-connector")

    # A Python node drawn from the palette and saved through the editor retries exceptions (regression).
    drag_from_palette(page, "python", *canvas_point(page, 0.5, 0.85))
    save(page)
    drawn = Node.objects.get(version__topology=topology, kind="python", name="Python node")
    assert RetryPolicy.from_config(drawn.retry).retries("error")
    assert drawn.retry == kinds.RETRY_DEFAULTS


# Each element drawn on its own by BpmnRenderer (through FlowyardRenderer.drawFull for kinds) and diagram-js,
# next to what the editor drew from its stamps, shared arrowheads, cloned frames and one-line labels: the
# same markup but for marker ids and the <defs> a flow no longer carries.
SAME_DRAWING_JS = """() => {
  const m = window.flowyardEditor.modeler;
  const registry = m.get('elementRegistry');
  const kinds = m.get('flowyardKinds');
  const graphicsFactory = m.get('graphicsFactory');
  const group = () => document.createElementNS('http://www.w3.org/2000/svg', 'g');
  const markup = (node) => {
    node.querySelectorAll('defs').forEach((defs) => defs.remove());
    return node.innerHTML.replace(/marker-[a-z0-9]+/g, 'marker');
  };
  const classes = (node) => node.getAttribute('class');
  const differences = [];
  for (const element of registry.getAll()) {
    if (!element.parent) continue;
    const gfx = registry.getGraphics(element);
    const alone = group();
    const kind = !element.labelTarget && kinds.of(element);
    if (element.waypoints) m.get('bpmnRenderer').drawConnection(alone, element);
    else if (kind) m.get('flowyardRenderer').drawFull(alone, element, kind);
    else m.get('bpmnRenderer').drawShape(alone, element);
    const drawn = markup(gfx.querySelector('.djs-visual').cloneNode(true));
    if (markup(alone) !== drawn) differences.push([element.id, markup(alone), drawn]);
    const hits = group();
    m.get('interactionEvents').createDefaultHit(element, hits);
    if (hits.innerHTML !== gfx.querySelector('.djs-hit').outerHTML) differences.push([element.id, hits.innerHTML]);
    const frame = Object.getPrototypeOf(graphicsFactory)._createContainer.call(
      graphicsFactory, element.waypoints ? 'connection' : 'shape', group());
    if (classes(frame.parentNode) !== classes(gfx.parentNode) || !classes(gfx).startsWith(classes(frame))) {
      differences.push([element.id, classes(gfx)]);
    }
  }
  for (const line of document.querySelectorAll('#fy-canvas .djs-connection .djs-visual > path')) {
    const id = (line.style.markerEnd.match(/#([\\w-]+)/) || [])[1];
    if (!id || !document.getElementById(id)) differences.push(['arrowhead', line.outerHTML]);
  }
  return differences;
}"""

NAMES = ["Call API", "A", "A name long enough to wrap over three lines of its task", "Ünïcødé ✓", "x" * 30]


@pytest.mark.django_db(transaction=True)
def test_the_editor_draws_every_kind_as_bpmn_js_would(page, live_server, login):
    tenant = make_tenant("Drawing Co")
    user = make_member(tenant, Role.EDITOR, "drawing@example.com")
    nodes = [{"id": f"N_{i}", "kind": kind, "name": NAMES[i % len(NAMES)]} for i, kind in enumerate(kinds.KINDS)]
    nodes += [{"id": f"T_{i}", "kind": "transform", "name": name} for i, name in enumerate(NAMES)]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    router = next(n["id"] for n in nodes if n["kind"] == "router")
    edges += [{"source": router, "target": "T_0", "default": True}]
    edges += [{"source": router, "target": "T_1", "condition": "a"}]
    topology = services.topology_create(tenant=tenant, name="Drawing", actor=user, bpmn_xml=build_bpmn(nodes, edges))
    login(page, user)
    open_editor(page, topology)
    assert page.evaluate(SAME_DRAWING_JS) == []
    # The fast paths were taken: one-line labels of a learnt layout, one arrowhead shared by the plain flows.
    lines = "() => [...window.flowyardEditor.modeler.get('flowyardStamps').stamps.values()].some((s) => s && s.line)"
    assert page.evaluate(lines)
    assert page.locator("#fy-canvas svg > defs > marker").count() == 1


EXPORT_IDS = re.compile(r'\sid="([^"]+)"')


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fixture", ["transaction.bpmn", "resource-assignment.bpmn"])
def test_edit_save_export_keeps_every_original_element(page, live_server, login, fixture):
    tenant = make_tenant("Fidelity Co")
    user = make_member(tenant, Role.EDITOR, "fidelity@example.com")
    data = (FIXTURES / fixture).read_bytes()
    version = services.topology_import(tenant=tenant, name="Fidelity", bpmn_xml=data, actor=user)
    login(page, user)
    open_editor(page, version.topology)
    # bpmn-js read every element: no import warnings (the old moddle extension broke both files).
    expect(page.get_by_test_id("problems")).not_to_contain_text("Import")
    node_id = "Pay_Log" if fixture == "transaction.bpmn" else "Approve"
    select(page, node_id)
    page.get_by_test_id("properties-panel").locator("[name=name]").fill("Renamed in the editor")
    save(page)
    exported = page.request.get(f"/topologies/{version.topology_id}/versions/1/export/").text()
    assert "Renamed in the editor" in exported
    assert set(EXPORT_IDS.findall(data.decode())) <= set(EXPORT_IDS.findall(exported))
    if fixture == "transaction.bpmn":
        assert 'method="##Compensate"' in exported
    else:
        assert "<bpmn:resourceAssignmentExpression" in exported and "group(managers)" in exported


@pytest.mark.django_db(transaction=True)
def test_the_editor_opens_the_diagram_of_the_process_that_runs(page, live_server, login):
    tenant = make_tenant("Multi Co")
    user = make_member(tenant, Role.EDITOR, "multi@example.com")
    data = (FIXTURES / "multiple-diagrams.bpmn").read_bytes()
    version = services.topology_import(tenant=tenant, name="Multi", bpmn_xml=data, actor=user)
    assert version.process_id == "Big"
    login(page, user)
    open_editor(page, version.topology)
    root = "() => window.flowyardEditor.modeler.get('canvas').getRootElement().businessObject.id"
    assert page.evaluate(root) == "Big"
    expect(page.locator(element_selector("Big_Two"))).to_have_count(1)


@pytest.mark.django_db(transaction=True)
def test_a_file_without_a_diagram_is_laid_out_and_kept(page, live_server, login, screenshot):
    tenant = make_tenant("Bare Co")
    user = make_member(tenant, Role.EDITOR, "bare@example.com")
    data = (FIXTURES / "no-diagram.bpmn").read_bytes()
    version = services.topology_import(tenant=tenant, name="Bare", bpmn_xml=data, actor=user)
    login(page, user)
    open_editor(page, version.topology)
    for element_id in ("Bare_Start", "Bare_Echo", "Bare_End"):
        expect(page.locator(element_selector(element_id))).to_have_count(1)
    expect(page.get_by_test_id("problems")).to_contain_text("laid it out automatically")
    screenshot(page, "editor-auto-layout")
    # The layout is saved with the draft (autosave), so the next visit and the viewer have it too.
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile(r"^Saved"), timeout=10_000)
    assert "BPMNDiagram" in TopologyVersion.objects.get(pk=version.pk).bpmn_xml


@pytest.mark.django_db(transaction=True)
def test_bpmn_js_import_warnings_show_when_a_version_opens(page, live_server, login):
    tenant = make_tenant("Warn Co")
    user = make_member(tenant, Role.VIEWER, "warn@example.com")
    owner = make_member(tenant, Role.OWNER, "warn-owner@example.com")
    data = (FIXTURES / "xss.bpmn").read_bytes()
    version = services.topology_import(tenant=tenant, name="Hostile", bpmn_xml=data, actor=owner)
    login(page, user)
    open_editor(page, version.topology)
    problems = page.get_by_test_id("problems")
    expect(problems.locator(".fy-problem-warning").filter(has_text="illegal ID")).not_to_have_count(0)
    expect(problems).to_have_class(re.compile("is-open"))
    assert page.locator("#fy-panel img, #fy-problems img").count() == 0


@pytest.mark.django_db(transaction=True)
def test_importing_a_latin1_file_in_the_editor_keeps_its_accents(page, live_server, login):
    tenant = make_tenant("Latin Co")
    user = make_member(tenant, Role.EDITOR, "latin@example.com")
    target = services.topology_create(tenant=tenant, name="Target", actor=user)
    login(page, user)
    open_editor(page, target)
    page.locator("#fy-import-file").set_input_files(str(FIXTURES / "latin1.bpmn"))
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile(r"^Saved"))
    assert Node.objects.get(version__topology=target, key="Tache").name == "Tâche élémentaire"


GUESS_JS = """([id, blank]) => {
  const m = window.flowyardEditor.modeler;
  const kinds = m.get('flowyardKinds');
  if (blank) kinds.get(blank).inferFrom = [];
  const guess = kinds.guess(m.get('elementRegistry').get(id).businessObject);
  return guess ? guess.kind : '';
}"""


@pytest.mark.django_db(transaction=True)
def test_kind_suggestions_for_plain_bpmn_follow_the_registry_like_the_server(page, live_server, login):
    tenant = make_tenant("Guess Co")
    user = make_member(tenant, Role.EDITOR, "guess@example.com")
    nodes = [
        {"id": "Cron", "kind": "start.cron", "name": "Cron", "cron": "*/5 * * * *"},
        {"id": "Msg", "kind": "start.event", "name": "Msg"},
        {"id": "Fan", "kind": "fanout", "name": "Fan"},
        {"id": "Script", "kind": "transform", "name": "Script"},
        {"id": "Person", "kind": "user", "name": "Person"},
        {"id": "Join", "kind": "join", "name": "Join"},
        {"id": "Pause", "kind": "wait", "name": "Pause"},
        {"id": "Route", "kind": "router", "name": "Route"},
        {"id": "Call", "kind": "connector", "name": "Call"},
        {"id": "Done", "kind": "end", "name": "Done"},
    ]
    edges = [
        {"source": "Cron", "target": "Fan"},
        {"source": "Fan", "target": "Script"},
        {"source": "Fan", "target": "Person"},
        {"source": "Script", "target": "Join"},
        {"source": "Person", "target": "Join"},
        {"source": "Join", "target": "Pause"},
        {"source": "Pause", "target": "Route"},
        {"source": "Route", "target": "Call"},
        {"source": "Call", "target": "Done"},
        {"source": "Msg", "target": "Done"},
    ]
    # As another modeler writes it: the same elements, no flowyard:kind.
    plain = re.sub(r'\sflowyard:kind="[^"]*"', "", build_bpmn(nodes, edges))
    topology = services.topology_create(tenant=tenant, name="Plain", actor=user, bpmn_xml=plain)
    inferred = dict(Node.objects.filter(version__topology=topology).values_list("key", "kind"))
    assert inferred["Join"] == "join" and inferred["Fan"] == "fanout" and inferred["Call"] == ""  # the server's rule
    login(page, user)
    open_editor(page, topology)
    for node in nodes:
        assert page.evaluate(GUESS_JS, [node["id"], None]) == inferred[node["id"]], node["id"]
    # The suggestion is read from the registry: a kind that no longer lists an element type is not suggested.
    assert page.evaluate(GUESS_JS, ["Script", "transform"]) == ""
    select(page, "Person")
    expect(page.get_by_test_id("properties-panel")).to_contain_text("Suggested for this element: User task.")
