"""The Chinese edition as a Chinese learner meets it: notebooks/zh in a JupyterLab whose UI is Chinese
(the zh_CN language pack), Chinese text drawn as glyphs and not as boxes (a CJK font, Debian's
fonts-noto-cjk), a check's hint in Chinese, and the static site's language switch both ways.

Run with `make test-e2e`. Screenshots go to tests/e2e/artifacts/ (git-ignored).
"""

import re
import time

import pytest

from course_lib.i18n import translations

from .conftest import ARTIFACTS
from .test_jupyterlab import error_outputs, lab_page

pytestmark = pytest.mark.e2e
CJK = re.compile(r"[\u4e00-\u9fff]")

# Two different Chinese characters drawn in the element's own font: with no CJK font both come out
# as the same empty box (the font's .notdef glyph), identical to a private-use character's box.
GLYPHS_JS = """(el) => {
  const font = getComputedStyle(el).fontFamily;
  const c = document.createElement('canvas'); c.width = 48; c.height = 48;
  const g = c.getContext('2d');
  const draw = ch => { g.clearRect(0, 0, 48, 48); g.font = '36px ' + font; g.fillStyle = '#000';
                       g.fillText(ch, 4, 40); return Array.from(g.getImageData(0, 0, 48, 48).data).join(','); };
  const a = draw('残'), b = draw('差'), box = draw('\\u{10FFFD}');
  return {font, distinct: a !== b, notBoxes: a !== box && b !== box, inked: /[1-9]/.test(a)};
}"""


@pytest.fixture
def zh_page(lab_zh, browser, request):
    yield from lab_page(browser, request, locale="zh-CN")


FRACTIONS = ("Your sizes are fractions when the stride does not fit evenly: a convolution only places whole "
             "windows, so round down.")


def dismiss_dialogs(page):
    """Accept the kernel choice if JupyterLab asks (选择 in the Chinese UI)."""
    select = page.locator(".jp-Dialog .jp-mod-accept", has_text=re.compile("^(Select|选择)$"))
    try:
        select.wait_for(timeout=5_000)
        select.click()
    except Exception:             # no dialog: the kernel started by itself
        pass


def open_zh(page, lab, notebook):
    page.goto(f"{lab['base']}/lab/tree/notebooks/zh/{notebook}?token={lab['token']}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    dismiss_dialogs(page)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000, state="attached")


def menu_labels(page):
    return [t.strip() for t in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]


def glyphs(locator):
    return locator.evaluate(GLYPHS_JS)


def run_all(page):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^运行$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^运行所有单元格$")).click()
    time.sleep(2)
    page.wait_for_function(
        """() => ![...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'))""",
        timeout=300_000)


def test_the_chinese_notebook_reads_in_chinese_before_and_after_running(zh_page, lab_zh):
    page = zh_page
    open_zh(page, lab_zh, "03_1x1_convolutions_and_shortcuts.ipynb")
    labels = menu_labels(page)
    assert "编辑" in labels and "运行" in labels and "Run" not in labels, f"the Lab UI is not Chinese: {labels}"
    heading = page.locator(".jp-MarkdownOutput h1").first
    assert CJK.search(heading.inner_text())
    before = glyphs(heading)
    assert before["distinct"] and before["notBoxes"] and before["inked"], f"Chinese shows as boxes: {before}"
    page.screenshot(path=str(ARTIFACTS / "zh_03_unexecuted.png"))

    run_all(page)
    assert not error_outputs(page)
    # A wrong answer to exercise 03.1, typed into a new cell at the end: the check answers in Chinese.
    page.locator(".jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("check_output_size(lambda n, k, p, s: (n - k + 2 * p) / s + 1)")
    page.keyboard.press("Shift+Enter")
    chinese = translations("zh")[FRACTIONS]               # the hint for this mistake, from the catalog
    hint = page.locator(".jp-OutputArea-output", has_text=chinese[:12]).last
    hint.wait_for(timeout=60_000)
    text = hint.inner_text()
    assert chinese in " ".join(text.split()) or chinese[:20] in text, text
    assert "fractions" not in text
    after = glyphs(hint)
    assert after["distinct"] and after["notBoxes"], f"the hint shows as boxes: {after}"
    page.screenshot(path=str(ARTIFACTS / "zh_03_after_run.png"))


def test_the_site_switches_language_both_ways(browser, built_site):
    tmp_path = built_site[0]
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    requests = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    try:
        page.goto((tmp_path / "zh" / "08_depth_explorer.html").as_uri())
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert CJK.search(page.title())
        result = glyphs(page.locator("h1").first)
        assert result["distinct"] and result["notBoxes"], result
        page.locator("a.lang", has_text="English").first.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/08_depth_explorer.html") and "/zh/" not in page.url
        assert page.title().startswith("08 · The depth explorer")
        page.locator("a.lang", has_text="中文").first.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/zh/08_depth_explorer.html")
        page.goto((tmp_path / "zh" / "index.html").as_uri())
        page.locator("a.lang", has_text="English").click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/index.html") and "/zh/" not in page.url
        page.screenshot(path=str(ARTIFACTS / "site_zh_switch.png"))
    finally:
        context.close()
    foreign = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert not foreign, f"the static site asked the network for: {foreign[:5]}"
