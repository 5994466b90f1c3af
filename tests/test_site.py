import re

from course_lib.site import NOTEBOOKS, build_site


def test_site_has_every_notebook_and_no_network_references(tmp_path):
    paths = build_site(tmp_path)
    names = {p.name for p in paths}
    assert "index.html" in names
    assert {p.stem + ".html" for p in NOTEBOOKS.glob("*.ipynb")} <= names
    index = (tmp_path / "index.html").read_text()
    assert "08_depth_explorer.html" in index and "The depth explorer" in index
    for p in paths:
        text = p.read_text()
        assert not re.search(r"<script[^>]*src=\"https?://", text), p.name
        assert not re.search(r"<link[^>]*href=\"https?://", text), p.name
        assert ".ipynb\"" not in re.sub(r"<pre.*?</pre>", "", text, flags=re.S) or p.name == "index.html", p.name
    assert "application/vnd.jupyter.widget-view+json" not in (tmp_path / "08_depth_explorer.html").read_text()


def test_no_notebook_needs_mathjax():
    """The site ships no MathJax, so the prose writes formulas in plain text."""
    import json

    for path in NOTEBOOKS.glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                text = re.sub(r"`[^`]*`", "", "".join(cell["source"]))
                assert not re.search(r"\$[^$\n]+\$", text), f"{path.name}: LaTeX math needs MathJax"
