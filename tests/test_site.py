import base64
import io
import re
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_lib.tools import site
from course_lib.tools.site import NOTEBOOKS, ROOT, build_site, code_alt, notebook_times, render_page, terminal_text


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    said = []
    paths = build_site(out, log=said.append)
    return out, paths, said


def committed_stems():
    names = subprocess.run(["git", "ls-tree", "--name-only", "HEAD", "--", "."], cwd=NOTEBOOKS,
                           capture_output=True, text=True, check=True).stdout.split()
    return [n[:-len(".ipynb")] for n in sorted(names) if n.endswith(".ipynb")]


def test_site_has_every_notebook_and_no_network_references(built):
    out, paths, _ = built
    names = {p.name for p in paths}
    assert "index.html" in names
    assert {s + ".html" for s in committed_stems()} <= names
    index = (out / "index.html").read_text()
    assert "08_depth_explorer.html" in index and "The depth explorer" in index
    for p in paths:
        text = p.read_text()
        assert not re.search(r"<script[^>]*src=\"https?://", text), p.name
        assert not re.search(r"<link[^>]*href=\"https?://", text), p.name
        assert ".ipynb\"" not in re.sub(r"<pre.*?</pre>", "", text, flags=re.S) or p.name == "index.html", p.name
    assert "application/vnd.jupyter.widget-view+json" not in (out / "08_depth_explorer.html").read_text()


def test_no_notebook_needs_mathjax():
    """The site ships no MathJax, so the prose writes formulas in plain text."""
    import json

    for path in NOTEBOOKS.glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                text = re.sub(r"`[^`]*`", "", "".join(cell["source"]))
                assert not re.search(r"\$[^$\n]+\$", text), f"{path.name}: LaTeX math needs MathJax"


# ----------------------------------------------------------------------------- 1. progress bars
def test_terminal_text_keeps_what_a_terminal_shows():
    assert terminal_text("a:   0%|   | 0/9\ra:  50%|#  | 4/9\ra: 100%|###| 9/9\n") == "a: 100%|###| 9/9\n"
    assert terminal_text("abcdef\rXY") == "XYcdef"                      # overwrite, not erase
    assert terminal_text("12345\b\b9") == "12395"
    # tqdm's nested bars: cursor up (ESC[A), back to the start, rewrite; ESC[K erases to the end
    assert terminal_text("outer 0/2\ninner 0/3\x1b[A\router 1/2\ninner 3/3\x1b[K") == "outer 1/2\ninner 3/3"
    assert terminal_text("x\x1b[2K\rdone") == "done"
    assert terminal_text("\x1b[31mred\x1b[0m\n") == "\x1b[31mred\x1b[0m\n"   # colours stay for the converter


def _progress_notebook():
    bar = [f"\rtraining: {p:3d}%|{'#' * (p // 10):10s}| {p}/100 [00:0{p // 50}<00:00]" for p in (0, 1, 50, 99, 100)]
    outputs = [new_output("stream", name="stdout", text="run 1 of 1\n")]
    outputs += [new_output("stream", name="stderr", text=b) for b in bar] + [new_output("stream", name="stderr", text="\n")]
    outputs += [new_output("stream", name="stdout", text="test accuracy: 0.975\n")]
    return new_notebook(cells=[new_markdown_cell("# 99 · Bars\n*A progress bar.*"),
                               new_code_cell("train()", outputs=outputs, execution_count=1)])


def test_a_progress_bar_renders_as_its_final_line_only():
    page = render_page(_progress_notebook())
    text = re.sub(r"<[^>]+>", "", page)
    assert text.count("training:") == 1 and "100/100" in text
    assert not re.search(r"(?<!\d)(0|1|50|99)%\|", text)
    assert "run 1 of 1" in text and "test accuracy: 0.975" in text


def test_no_page_of_the_course_shows_a_progress_bar_twice_or_at_zero(built):
    out, _, _ = built
    for path in out.glob("*.html"):
        text = re.sub(r"<[^>]+>", "", path.read_text())
        assert not re.search(r"(?<!\d)0%\|", text), path.name
    text = re.sub(r"<[^>]+>", "", (out / "09_resnet_in_practice.html").read_text())
    assert len(re.findall(r"\d+%\|", text)) <= 4      # was 197 lines, one per update


# ----------------------------------------------------------------------------- 2. titles, navigation, times
def test_every_page_has_its_notebooks_title(built):
    out, _, _ = built
    for stem in committed_stems():
        nb = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
        heading = nb.cells[0].source.splitlines()[0][2:].strip()
        title = re.search(r"<title>(.*?)</title>", (out / f"{stem}.html").read_text()).group(1)
        assert title == heading.replace("&", "&amp;") and title != "Notebook", stem


def test_the_index_lists_notebooks_once_numbered_with_topic_and_time(built):
    out, _, _ = built
    index = (out / "index.html").read_text()
    assert "<ol" not in index                      # the titles carry the numbers: no "0. 00 · Start here"
    assert index.count('href="00_start_here.html"') == 1
    _, times = notebook_times((ROOT / "README.md").read_text())
    for stem in committed_stems():
        nb = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
        _, topic = site.title_and_topic(nb)
        assert topic and topic in index.replace("&#x27;", "'").replace("&quot;", '"'), stem
        assert f"full run: {times[stem]}" in index, stem


def test_every_committed_notebook_has_a_measured_time_in_the_readme():
    note, times = notebook_times((ROOT / "README.md").read_text())
    assert note.startswith("full run, measured")
    missing = [s for s in committed_stems() if not re.match(r"^\d+ (s|min)\b", times.get(s, ""))]
    assert not missing, f"the README's table of notebooks has no full-run time for {missing}"


def test_readme_times_parser():
    readme = ("intro\n\n| # | notebook | topic | full run, measured on a laptop |\n|---|---|---|---|\n"
              "| 00 | `00_a` | a | 6 s |\n| 07 | `07_b` | b | 18 min (5 seeds; `TRAIN = False` loads) |\n\nafter\n")
    assert notebook_times(readme) == ("full run, measured on a laptop", {"00_a": "6 s", "07_b": "18 min"})
    assert notebook_times("no table here") == ("", {})


def test_every_page_has_previous_next_and_the_course_map(built):
    out, _, _ = built
    stems = committed_stems()
    for i, stem in enumerate(stems):
        page = (out / f"{stem}.html").read_text()
        navs = [(re.search(r'aria-label="([^"]+)"', attrs).group(1), body)
                for attrs, body in re.findall(r"<nav ([^>]*)>(.*?)</nav>", page, flags=re.S)]
        assert [label for label, _ in navs] == ["Course navigation", "Previous and next notebook"], stem
        for _, nav in navs:
            links = [dict(re.findall(r'([\w-]+)="([^"]*)"', a)) for a in re.findall(r"<a ([^>]*)>", nav)]
            assert [a["href"] for a in links if a.get("rel") == "prev"] == ([f"{stems[i - 1]}.html"] if i else []), stem
            assert [a["href"] for a in links if a.get("rel") == "next"] == (
                [f"{stems[i + 1]}.html"] if i + 1 < len(stems) else []), stem
            assert links[0]["href"] == "index.html"
        course_map = [dict(re.findall(r'([\w-]+)="([^"]*)"', a)) for a in re.findall(r"<li><a ([^>]*)>", navs[0][1])]
        assert [a["href"] for a in course_map] == [f"{s}.html" for s in stems], stem
        assert [a["href"] for a in course_map if a.get("aria-current") == "page"] == [f"{stem}.html"], stem
        assert page.index("<main>") > page.index(navs[0][1]) and page.index("</main>") < page.rindex(navs[1][1])


# ----------------------------------------------------------------------------- 3. committed, not working copies
def _course_folder(root, body):
    (root / "notebooks").mkdir(parents=True)
    nb = new_notebook(cells=[new_markdown_cell("# 00 · A\n*The topic.*"), new_markdown_cell(body)])
    nbformat.write(nb, root / "notebooks" / "00_a.ipynb")
    (root / "README.md").write_text("| # | notebook | topic | full run, measured here |\n|---|---|---|---|\n"
                                    "| 00 | `00_a` | a | 3 s |\n")
    return root / "notebooks"


def _git(root, *args):
    subprocess.run(["git", "-c", "user.name=course", "-c", "user.email=course@example.org", *args],
                   cwd=root, check=True, capture_output=True)


def test_site_is_built_from_the_committed_notebooks(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "course"
    notebooks = _course_folder(root, "What the course committed.")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "course")
    nb = nbformat.read(notebooks / "00_a.ipynb", as_version=4)
    nb.cells[1].source = "A learner's autosaved edit."
    nbformat.write(nb, notebooks / "00_a.ipynb")
    nbformat.write(new_notebook(cells=[new_markdown_cell("# 01 · Scratch")]), notebooks / "01_scratch.ipynb")
    said = []
    paths = build_site(tmp_path / "out", notebooks, log=said.append)
    page = (tmp_path / "out" / "00_a.html").read_text()
    assert "What the course committed." in page and "autosaved" not in page
    assert [p.name for p in paths] == ["index.html", "00_a.html"]          # untracked notebooks stay out
    assert said == ["1 notebook(s) differ from the committed version (00_a.ipynb); the site shows the committed ones"]
    assert "full run: 3 s" in (tmp_path / "out" / "index.html").read_text()
    assert "The topic. (full run: 3 s)" in (tmp_path / "out" / "00_a.html").read_text()     # the course map


def test_outside_git_the_site_says_so_and_uses_the_working_copies(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    notebooks = _course_folder(tmp_path / "course", "The working copy.")
    said = []
    build_site(tmp_path / "out", notebooks, log=said.append)
    assert len(said) == 1 and "not a git checkout" in said[0] and "working copies" in said[0]
    assert "The working copy." in (tmp_path / "out" / "00_a.html").read_text()
    assert "working copies of the notebooks" in (tmp_path / "out" / "index.html").read_text()


def test_a_checkout_without_committed_notebooks_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "course"
    notebooks = _course_folder(root, "Never committed.")
    _git(root, "init", "-q")
    _git(root, "add", "README.md")
    _git(root, "commit", "-q", "-m", "readme only")
    said = []
    build_site(tmp_path / "out", notebooks, log=said.append)
    assert len(said) == 1 and "HEAD has no notebooks" in said[0]
    assert "Never committed." in (tmp_path / "out" / "00_a.html").read_text()
    assert "working copies of the notebooks" in (tmp_path / "out" / "index.html").read_text()


def test_a_notebook_without_a_time_in_the_readme_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    notebooks = _course_folder(tmp_path / "course", "text")
    (tmp_path / "course" / "README.md").write_text("no table\n")
    said = []
    build_site(tmp_path / "out", notebooks, log=said.append)
    assert any("no full-run time for 00_a" in s for s in said)
    assert "no time measured in the README" in (tmp_path / "out" / "00_a.html").read_text()


# ----------------------------------------------------------------------------- 4. alt text
def _png() -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def test_images_get_their_saved_alt_text_or_one_from_the_code():
    png = _png()
    with_alt = new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"},
                          metadata={"image/png": {"alt": "loss; x: step; y: loss"}})
    def without():
        return new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})
    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · Pictures\n*alt text*"), new_markdown_cell("## 3 · The curves"),
        new_code_cell("plot()", outputs=[with_alt], execution_count=1),
        new_code_cell('ax.set(title="accuracy by depth", xlabel="depth")\nplt.show()', outputs=[without()], execution_count=2),
        new_code_cell("ax.imshow(x)\nplt.show()", outputs=[without()], execution_count=3)])
    alts = re.findall(r'<img alt="([^"]*)"', render_page(nb))
    assert alts == ["loss; x: step; y: loss", "accuracy by depth; x: depth",
                    "images drawn by the code of section “3 · The curves”"]


def test_code_alt_reads_titles_docstrings_and_never_returns_empty():
    assert code_alt('fig.suptitle(f"{arm}: all {n} seeds")\nax.set_ylabel("error")') == "…: all … seeds; y: error"
    assert code_alt("axes = plot_arms(runs)\nplt.show()").startswith("Loss and accuracy of several seeds per arm")
    assert code_alt("%matplotlib inline\nshow()") == "a figure drawn by the code cell above"


def test_every_image_on_the_site_has_alt_text(built):
    out, _, _ = built
    count = 0
    for path in out.glob("*.html"):
        for img in re.findall(r"<img\b[^>]*>", path.read_text()):
            alt = re.search(r'\balt="([^"]*)"', img)
            assert alt and len(alt.group(1).strip()) > 3, f"{path.name}: {img[:80]}"
            assert "No description" not in alt.group(1), path.name
            count += 1
    assert count >= 30
    widget_alts = re.findall(r'<img alt="(saved picture of the widget[^"]*)"', (out / "08_depth_explorer.html").read_text())
    assert widget_alts and "depth = 56" in widget_alts[0]


def test_the_sites_colours_have_enough_contrast():
    from course_lib.accessibility import contrast_ratio

    for name, colour in site.CODE_COLOURS.items():
        assert contrast_ratio(colour, site.CODE_BACKGROUND) >= 4.5, name
    for name, colour in {**site.PROMPT_COLOURS, **site.NAV_COLOURS}.items():
        assert contrast_ratio(colour, "#ffffff") >= 4.5, name
    assert contrast_ratio("#aa22ff", site.CODE_BACKGROUND) < 4.5      # nbconvert's operator colour, which axe flagged


def test_a_chinese_page_says_its_language_and_links_to_its_english_twin():
    import nbformat

    from course_lib.i18n import using
    from course_lib.tools.site import Page, language_switch, navigation, render_page

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# 08 · 深度探索器"))
    assert '<html lang="zh-CN">' in render_page(nb, "08 · 深度探索器", lang="zh")
    assert '<html lang="en">' in render_page(nb, "08 · The depth explorer", lang="en")
    assert 'href="../08_depth_explorer.html"' in language_switch("08_depth_explorer.html", "zh")
    assert 'href="zh/08_depth_explorer.html"' in language_switch("08_depth_explorer.html", "en")
    pages = [Page("07_x.html", "07", "", None), Page("08_depth_explorer.html", "08", "", "31 s")]
    with using("zh"):
        top = navigation(pages, 1, "top", "zh")
    assert "English" in top and "课程地图" in top and 'href="../08_depth_explorer.html"' in top
