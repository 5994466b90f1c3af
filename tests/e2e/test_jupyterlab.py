"""The course as learners use it: JupyterLab in a real (headless) Chromium, widgets moved by hand.

Run with `make test-e2e`. Screenshots go to tests/e2e/artifacts/ (git-ignored).
"""

import re
import time
from urllib.parse import urlparse

import pytest

from .conftest import ARTIFACTS

pytestmark = pytest.mark.e2e
RUN_TIMEOUT_MS = 300_000


@pytest.fixture
def page(lab, browser, request):
    yield from lab_page(browser, request)


def lab_page(browser, request, **context_options):
    """A fresh browser page on the local JupyterLab: a screenshot when the test ends, and no request
    may leave 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, **context_options)
    requests = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.requests = requests
    try:
        yield page
    finally:
        try:
            page.screenshot(path=str(ARTIFACTS / f"last_{request.node.name}.png"))
        except Exception:
            pass
        context.close()
    foreign = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).hostname != "127.0.0.1"]
    assert not foreign, f"requests left 127.0.0.1: {foreign[:5]}"


def open_and_run_all(page, lab, notebook):
    page.goto(f"{lab['base']}/lab/tree/notebooks/{notebook}?token={lab['token']}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    dismiss_dialogs(page)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000, state="attached")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    # Finished when no prompt shows [*] and the kernel is idle again.
    time.sleep(2)
    page.wait_for_function(
        """() => ![...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'))""",
        timeout=RUN_TIMEOUT_MS)


def dismiss_dialogs(page):
    """Accept the kernel choice if JupyterLab asks, and decline the news prompt."""
    select = page.locator(".jp-Dialog .jp-mod-accept", has_text="Select")
    try:
        select.wait_for(timeout=5_000)
        select.click()
    except Exception:             # no dialog: the kernel started by itself
        pass
    no_news = page.locator(".jp-toast-button", has_text=re.compile(r"^No$"))
    if no_news.count():
        no_news.first.click()


def first_prompt(page):
    """The first code cell's prompt, after scrolling to the top (JupyterLab renders only the cells
    near the viewport, so a long notebook's first cell may be out of the DOM's rendered text)."""
    page.evaluate("() => document.querySelectorAll('.jp-WindowedPanel-outer').forEach(e => e.scrollTo(0, 0))")
    page.wait_for_timeout(1000)
    return page.locator(".jp-CodeCell .jp-InputPrompt").first.evaluate("e => e.textContent").strip()


def error_outputs(page):
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                        has_text=re.compile("Traceback|Error:")).all_inner_texts()


def readout(page):
    return page.locator(".widget-html-content", has_text="weighted layers").first.inner_text()


def figure_src(page):
    return page.locator(".jupyter-widgets img").first.get_attribute("src")


def test_depth_explorer_in_jupyterlab(page, lab):
    start = time.time()
    open_and_run_all(page, lab, "08_depth_explorer.ipynb")
    # Only a fresh fast-mode run prints "not compared" (the committed full-mode outputs compare).
    assert page.locator(".jp-OutputArea-output", has_text="from the committed loss at the first step").count() >= 1
    assert not error_outputs(page)
    slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="depth")).first
    slider.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "08_after_run_all.png"), full_page=False)
    first = readout(page)
    assert "-56" in first, first
    cell = explorer_cell(page)                       # after running: the live widget alone, once
    assert cell.locator(".widget-slider", has=page.locator(".widget-label", has_text="depth")).count() == 1
    assert cell.locator(".jp-RenderedImage").count() == 0, "the saved picture stayed above the live widget"

    # keyboard: focus the handle, one step left → 44
    handle = slider.locator(".noUi-handle")
    src_before = figure_src(page)
    handle.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => [...document.querySelectorAll('.widget-html-content')].some(e => e.textContent.includes('-44,'))", timeout=60_000)
    assert "-44," in readout(page) and "44 weighted layers" in readout(page)
    page.wait_for_function(f"() => document.querySelector('.jupyter-widgets img').src !== {src_before!r}", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "08_keyboard_44.png"))

    # drag: pull the handle to the far left → 8
    src_before = figure_src(page)
    box = handle.bounding_box()
    track = slider.locator(".noUi-target").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] - 20, box["y"] + box["height"] / 2, steps=12)
    page.mouse.up()
    page.wait_for_function("() => [...document.querySelectorAll('.widget-html-content')].some(e => e.textContent.includes('-8,'))", timeout=60_000)
    assert "8 weighted layers" in readout(page)
    page.wait_for_function(f"() => document.querySelector('.jupyter-widgets img').src !== {src_before!r}", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "08_drag_8.png"))

    # the residual toggle changes the plot and the readout
    was_residual = "residual-8" in readout(page)
    src_before = figure_src(page)
    page.locator("button.widget-toggle-button", has_text="residual").first.click()
    want = "plain-8" if was_residual else "residual-8"
    page.wait_for_function(f"() => [...document.querySelectorAll('.widget-html-content')].some(e => e.textContent.includes('{want},'))", timeout=60_000)
    page.wait_for_function(f"() => document.querySelector('.jupyter-widgets img').src !== {src_before!r}", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "08_toggled.png"))
    print(f"depth explorer e2e: {time.time() - start:.0f} s")


def test_start_here_runs_clean(page, lab):
    open_and_run_all(page, lab, "00_start_here.ipynb")
    page.screenshot(path=str(ARTIFACTS / "00_after_run_all.png"), full_page=False)
    assert first_prompt(page) == "[1]:"                                 # really executed here ...
    assert "True" in page.locator(".jp-OutputArea-output", has_text="fast mode").first.inner_text()  # ... in fast mode
    assert not error_outputs(page)
    assert page.locator(".jp-OutputArea-output img").count() >= 1      # the image grid rendered


def explorer_cell(page):
    return page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text="depth_explorer(depth=56")).first


def test_unexecuted_notebook_08_shows_the_explorer_picture(page, lab):
    """A fresh clone, opened without running anything: the saved figures, the explorer as one
    static picture (no dead widget drawn from saved state) and finished progress lines."""
    page.goto(f"{lab['base']}/lab/tree/notebooks/08_depth_explorer.ipynb?token={lab['token']}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    dismiss_dialogs(page)
    cell = explorer_cell(page)
    cell.scroll_into_view_if_needed(timeout=30_000)
    picture = cell.locator(".jp-OutputArea-output img")
    picture.first.wait_for(timeout=30_000)
    assert picture.count() == 1, f"{picture.count()} pictures of the explorer before running"
    width = picture.first.evaluate("img => img.naturalWidth")
    assert width > 500, f"the explorer's saved picture did not load (naturalWidth {width})"
    assert cell.locator(".jupyter-widgets, .widget-slider").count() == 0, "a dead copy of the widget is drawn"
    assert page.locator(".jp-Notebook .widget-slider").count() == 0
    page.screenshot(path=str(ARTIFACTS / "08_unexecuted_explorer_picture.png"))
    text = page.locator(".jp-Notebook").evaluate("n => n.textContent")
    assert not re.search(r"(?<!\d)0%\|", text), "a saved progress bar reads 0%"


@pytest.mark.parametrize("notebook", ["03_1x1_convolutions_and_shortcuts.ipynb", "04_bottlenecks_and_parameter_counts.ipynb",
                                      "09_resnet_in_practice.ipynb"])
def test_unexecuted_widgets_show_once_as_pictures(page, lab, notebook):
    """Before anything runs, every widget is its one saved picture: no dead copy from saved state."""
    import json
    from pathlib import Path
    nb = json.loads((Path(__file__).resolve().parents[2] / "notebooks" / notebook).read_text())
    shows = [c for c in nb["cells"] if c["cell_type"] == "code" and re.search(r"^\s*show\(", "".join(c["source"]), re.M)]
    page.goto(f"{lab['base']}/lab/tree/notebooks/{notebook}?token={lab['token']}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    dismiss_dialogs(page)
    for cell_json in shows:
        first = "".join(cell_json["source"]).splitlines()[0][:40]
        cell = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text=first)).first
        cell.scroll_into_view_if_needed(timeout=30_000)
        cell.locator(".jp-OutputArea-output img").first.wait_for(timeout=30_000)
        assert cell.locator(".jp-OutputArea-output img").count() == 1, f"{notebook}: {first}"
        assert cell.locator(".jupyter-widgets").count() == 0, f"{notebook}: a dead widget copy under {first}"
    page.screenshot(path=str(ARTIFACTS / f"unexecuted_{notebook[:2]}.png"))


def test_static_site_opens_offline(browser, built_site):
    tmp_path = built_site[0]
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    requests = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    try:
        page.goto((tmp_path / "index.html").as_uri())
        links = page.locator("li a")
        assert links.count() >= 11
        page.locator("li a", has_text="08").click()
        page.wait_for_load_state("load")
        images = page.locator("img")
        assert images.count() >= 3           # 08's committed outputs: the sweep, error vs depth, the widget
        widths = images.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
        assert all(w > 0 for w in widths), f"pictures that did not load: {widths}"
        assert page.locator('img[alt^="saved picture of the widget"]').count() >= 1
        assert page.title().startswith("08 · The depth explorer")
        page.get_by_role("navigation", name="Course navigation").get_by_role("link", name=re.compile("^next: 09")).click()
        page.wait_for_load_state("load")
        assert page.title() == "09 · ResNet in practice"
        page.screenshot(path=str(ARTIFACTS / "site_09.png"), full_page=False)
    finally:
        context.close()
    foreign = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert not foreign, f"the static site asked the network for: {foreign[:5]}"


def test_static_site_passes_axe(browser, built_site):
    """axe-core (the copy bundled in the axe-playwright-python wheel, injected into the page, so
    nothing is fetched) on every page, with the course map opened: no serious or critical
    violation. The counts by impact, per page, go to artifacts/axe_site.json."""
    import json
    from collections import Counter

    from axe_playwright_python.sync_playwright import Axe

    paths = built_site[1]                       # both editions: site/ and site/zh/
    axe, results, bad = Axe(), {}, []
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    try:
        for path in paths:
            page.goto(path.as_uri())
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            violations = axe.run(page).response["violations"]
            results[f"{path.parent.name}/{path.name}"] = {"by_impact": dict(Counter(v["impact"] for v in violations)),
                                  "rules": {v["id"]: [v["impact"], len(v["nodes"])] for v in violations}}
            bad += [f"{path.parent.name}/{path.name}: {v['id']} ({v['impact']}, {len(v['nodes'])} nodes: {v['nodes'][0]['html'][:80]})"
                    for v in violations if v["impact"] in ("serious", "critical")]
    finally:
        context.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe_site.json").write_text(json.dumps(results, indent=1))
    print("axe-core on the static site:", json.dumps({k: v["by_impact"] for k, v in results.items()}))
    assert len(results) == len(paths) >= 26
    assert not bad, "axe-core found:\n" + "\n".join(bad)
