"""A static site of the course, for reading without Python: `make site`, or

    python -m course_lib.site [--out site]

One HTML page per committed notebook (with its saved outputs and the widgets' saved pictures)
and an index page that is the course map. The pages need no network: every picture is embedded,
the course writes its formulas in plain text (no MathJax), and the live widgets, which need a
kernel, are left out; their saved pictures stay.
"""

from __future__ import annotations

import argparse
import html
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WIDGET = "application/vnd.jupyter.widget-view+json"
_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)


def _title_and_subtitle(nb) -> tuple[str, str]:
    lines = nb.cells[0].source.splitlines()
    title = lines[0].lstrip("# ").strip()
    subtitle = next((line.strip("* ") for line in lines[1:] if line.startswith("*")), "")
    return title, subtitle


def _offline_notebook(nb):
    """Drop the live widgets (they need a kernel) and their saved state; keep everything else."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    return nb


def render_page(nb) -> str:
    """One notebook (an nbformat node) as an offline HTML page."""
    from nbconvert import HTMLExporter

    nb = _offline_notebook(nb)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    body = _EXTERNAL_SCRIPT.sub("", body)                               # MathJax, require.js: not needed
    body = re.sub(r'href="([\w.-]+)\.ipynb"', r'href="\1.html"', body)   # links between notebooks
    nav = ('<nav style="padding:8px 16px;font-family:sans-serif;border-bottom:1px solid #ddd">'
           '<a href="index.html">← course map</a></nav>')
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)


def render_index(pages: list[tuple[str, str, str]]) -> str:
    items = "\n".join(f'<li><a href="{html.escape(href)}">{html.escape(title)}</a>'
                      + (f"<br><em>{html.escape(sub)}</em>" if sub else "") + "</li>"
                      for href, title, sub in pages)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Residual networks in PyTorch: the course</title>
<style>body{{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.5;padding:0 1em}}
li{{margin:0.6em 0}}</style></head>
<body><h1>Residual networks in PyTorch: a hands-on course</h1>
<p>The committed notebooks, with their saved outputs, as static pages. To run them and move the
widgets, clone the repository and run <code>make lab</code> (see the README).</p>
<ol start="0">
{items}
</ol></body></html>
"""


def build_site(out: Path, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Write index.html and one page per notebook into `out`; return the paths written."""
    import nbformat

    out.mkdir(parents=True, exist_ok=True)
    written, pages = [], []
    for path in sorted(notebooks.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        title, sub = _title_and_subtitle(nb)
        page = out / (path.stem + ".html")
        page.write_text(render_page(nb), encoding="utf-8")
        written.append(page)
        pages.append((page.name, title, sub))
    index = out / "index.html"
    index.write_text(render_index(pages), encoding="utf-8")
    return [index, *written]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.site", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site")
    args = parser.parse_args(argv)
    paths = build_site(args.out)
    print(f"wrote {len(paths)} pages to {args.out}; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
