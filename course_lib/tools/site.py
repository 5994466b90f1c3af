"""A static site of the course, for reading without Python: `make site`, or

    python -m course_lib.tools.site [--out site]

One HTML page per committed notebook (what `git show HEAD:notebooks/X.ipynb` gives, so that a
learner's autosaved edits stay out of it; outside a git checkout, the working copies, and it says
so) and an index page that is the course map. Each page has its notebook's title, a
previous/next bar and the course map; the index and the map give each notebook's topic (its
first cell's italic subtitle) and its measured full-run time (from the README's table of
notebooks, the one place the times are written). Progress bars show their final state, as in
JupyterLab. Every picture has alt text: the figure's own (`course_lib.accessibility`, saved in
the output's metadata), or, for outputs saved before the figures carried one, a description
built from the cell's code. The pages need no network: every picture is embedded, the course
writes its formulas in plain text (no MathJax), and the live widgets, which need a kernel, are
left out; their saved pictures stay.
"""

from __future__ import annotations

import argparse
import ast
import functools
import html
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..files import write_text
from ..i18n import _, using

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
WIDGET = "application/vnd.jupyter.widget-view+json"
SNAPSHOT_CAPTION = "*Saved picture of the widget"
_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)


# ----------------------------------------------------------------------------- streams
_CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def terminal_text(text: str) -> str:
    """What a terminal (and JupyterLab) shows of `text` once it is all written: a carriage
    return goes back to the start of the line and what follows overwrites it, a backspace steps
    back, and the cursor codes tqdm writes for nested bars (ESC[nA up, ESC[nB down, ESC[K and
    ESC[2K erase) move and erase. Colour codes (ESC[…m) are kept for the HTML converter."""
    lines: list[list[str]] = [[]]
    row = col = 0
    pending = ""                      # colour codes, attached to the next character written
    i = 0
    while i < len(text):
        ch = text[i]
        m = _CSI.match(text, i) if ch == "\x1b" else None
        if m:
            i = m.end()
            n = int(m.group(1).split(";")[0] or 1) if m.group(1).replace(";", "").isdigit() else 1
            code = m.group(2)
            if code == "m":
                pending += m.group(0)
            elif code == "A":
                row = max(row - n, 0)
            elif code == "B":
                row += n
                while len(lines) <= row:
                    lines.append([])
            elif code == "K":
                if m.group(1) == "2":
                    lines[row] = []
                else:
                    del lines[row][col:]
            elif code == "G":
                col = max(n - 1, 0)
            continue
        i += 1
        if ch in "\n\r\b" and pending and 0 < col <= len(lines[row]):
            lines[row][col - 1] += pending              # a colour reset closes the line it ends
            pending = ""
        if ch == "\n":
            row += 1
            col = 0
            while len(lines) <= row:
                lines.append([])
        elif ch == "\r":
            col = 0
        elif ch == "\b":
            col = max(col - 1, 0)
        else:
            line = lines[row]
            line.extend([" "] * (col - len(line)))
            cell = pending + ch
            pending = ""
            if col < len(line):
                line[col] = cell
            else:
                line.append(cell)
            col += 1
    if pending:
        lines[row].append(pending)
    return "\n".join("".join(line).rstrip(" ") if any(c.strip() for c in line) else "".join(line).strip(" ")
                     for line in lines)


def final_streams(nb):
    """Merge consecutive outputs of the same stream (as JupyterLab shows them) and keep only
    what a terminal would show at the end (`terminal_text`). Changes `nb` in place."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.outputs:
            if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                    and merged[-1].name == out.name):
                merged[-1].text += out.text
            else:
                merged.append(out)
        for out in merged:
            if out.output_type == "stream":
                out.text = terminal_text(out.text)
        cell.outputs = [o for o in merged if o.output_type != "stream" or o.text.strip()]
    return nb


# ----------------------------------------------------------------------------- the README's times
def notebook_times(readme: str) -> tuple[str, dict[str, str]]:
    """(what the times are, {notebook stem: full-run time}) from the README's table of notebooks,
    the one with a "full run, measured …" column. A time is its cell's first part ("18 min" of
    "18 min (5 seeds × 2 arms, …)")."""
    lines = readme.splitlines()
    for k, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and any(c.startswith("full run") for c in cells) and "notebook" in cells:
            col, name_col = next(i for i, c in enumerate(cells) if c.startswith("full run")), cells.index("notebook")
            times = {}
            for row in lines[k + 2:]:
                if not row.lstrip().startswith("|"):
                    break
                values = [c.strip() for c in row.strip().strip("|").split("|")]
                if len(values) > max(col, name_col):
                    stem, time = values[name_col].strip("` "), values[col].replace("`", "")
                    times[stem] = time.split(" (")[0].strip()
            return cells[col].replace("`", ""), times
    return "", {}


# ----------------------------------------------------------------------------- sources
@dataclass
class Source:
    name: str                # file name, e.g. 00_start_here.ipynb
    text: str                # the notebook's JSON
    differs: bool = False    # the working copy is not what was committed


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8")
    except OSError:          # no git at all
        return None


def _working_copies(notebooks: Path) -> tuple[list[Source], str | None, bool]:
    readme = notebooks.parent / "README.md"
    return ([Source(p.name, p.read_text(encoding="utf-8")) for p in sorted(notebooks.glob("*.ipynb"))],
            readme.read_text(encoding="utf-8") if readme.is_file() else None, False)


def notebook_sources(notebooks: Path, log=print) -> tuple[list[Source], str | None, bool]:
    """The committed notebooks (HEAD's notebooks/*.ipynb) and the README next to them, from git.
    Outside a git checkout (or without git, or before the first commit), the working copies,
    after one line that says so. Returns (sources, README text or None, whether they are the
    committed versions)."""
    listing = _git(["ls-tree", "--name-only", "HEAD", "--", "."], notebooks)
    if listing is None or listing.returncode != 0:
        why = "git is not installed" if listing is None else "this folder is not a git checkout with a commit"
        log(f"{why}, so the site is built from the working copies of the notebooks, not the committed ones")
        return _working_copies(notebooks)
    names = sorted(Path(n).name for n in listing.stdout.splitlines() if n.endswith(".ipynb"))
    if not names:
        log(f"git's HEAD has no notebooks in {notebooks}, so the site is built from the working copies")
        return _working_copies(notebooks)
    sources = []
    for name in names:
        text = _git(["show", f"HEAD:./{name}"], notebooks).stdout
        working = notebooks / name
        sources.append(Source(name, text, not working.is_file() or working.read_text(encoding="utf-8") != text))
    readme = _git(["show", "HEAD:./README.md"], notebooks.parent)
    return sources, readme.stdout if readme.returncode == 0 else None, True


# ----------------------------------------------------------------------------- alt text
@functools.lru_cache(maxsize=1)
def _docstrings() -> dict[str, str]:
    """First docstring line of the course's plotting, diagram and prediction functions, by name."""
    found = {}
    for module in ("plotting", "diagrams", "predict"):
        tree = ast.parse((Path(__file__).resolve().parents[1] / f"{module}.py").read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and ast.get_docstring(node):
                found[node.name] = " ".join(ast.get_docstring(node).split("\n\n")[0].split())
    return found


def _literal(node) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    return ""


_TITLE_CALLS = {"set_title": "title", "suptitle": "title", "title": "title", "set_xlabel": "x", "xlabel": "x",
                "set_ylabel": "y", "ylabel": "y"}


def code_alt(source: str, context: str = "") -> str:
    """Alt text for a saved figure whose output carries none, from the code that drew it: the
    titles and axis labels written in it, else the docstring of the course function it calls,
    else what kind of figure it is and the heading of its section (`context`). Never empty."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    said = {"title": [], "x": [], "y": []}
    calls = []
    for node in ast.walk(tree) if tree else []:
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        calls.append(name)
        if name in _TITLE_CALLS and node.args and _literal(node.args[0]):
            said[_TITLE_CALLS[name]].append(_literal(node.args[0]))
        for kw in node.keywords:
            key = {"title": "title", "xlabel": "x", "ylabel": "y"}.get(kw.arg or "")
            if key and _literal(kw.value):
                said[key].append(_literal(kw.value))
    parts = ["; ".join(dict.fromkeys(said["title"]))] if said["title"] else []
    parts += [f"{axis}: {', '.join(dict.fromkeys(said[axis]))}" for axis in ("x", "y") if said[axis]]
    docs = _docstrings()
    described = next((f"{docs[c]}" for c in calls if c in docs), "")
    if parts:
        return "; ".join(parts)
    if described:
        return described
    what = "images" if "imshow" in calls else "a figure"
    section = " ".join(re.sub(r"[#*`_]", "", context).split())
    return f"{what} drawn by the code of section “{section}”" if section else f"{what} drawn by the code cell above"


def add_alt_text(nb) -> None:
    """Give every image/png output an alt text in its metadata: the one it was saved with, or
    `code_alt` (prefixed with the widget's readouts for a widget's saved picture)."""
    section = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = [line for line in cell.source.splitlines() if line.startswith("#")]
            section = headings[-1] if headings else section
            continue
        if cell.cell_type != "code":
            continue
        snapshot: list[str] | None = None
        for k, out in enumerate(cell.outputs):
            data = out.get("data", {})
            md = "".join(data.get("text/markdown", ""))
            if md.startswith(SNAPSHOT_CAPTION):
                snapshot = []
            elif WIDGET in data:
                snapshot = None
            elif md and snapshot is not None:
                snapshot.append(" ".join(md.split()))
            if "image/png" not in data:
                continue
            meta = out.setdefault("metadata", {}).setdefault("image/png", {})
            if meta.get("alt"):
                continue
            if snapshot is not None:
                later = [" ".join("".join(o.get("data", {}).get("text/markdown", "")).split())
                         for o in cell.outputs[k + 1:] if WIDGET not in o.get("data", {})]
                readout = "; ".join(t for t in [*snapshot, *later[:1]] if t and not t.startswith("*"))
                meta["alt"] = f"saved picture of the widget: {readout}" if readout else "saved picture of the widget"
            else:
                meta["alt"] = code_alt(cell.source, section)


# ----------------------------------------------------------------------------- pages
# Colours: the code highlighting and prompts of nbconvert's light theme, darkened where they
# missed WCAG's 4.5:1 on the code background (#f5f5f5) or the page; links underlined so they are
# told from text without colour. tests/test_site.py measures every colour here.
CODE_BACKGROUND = "#f5f5f5"
CODE_COLOURS = {
    "atom": "#3b3bc4", "attribute": "#0000cc", "bracket": "#5f5f3f", "builtin": "#006b00",
    "comment": "#2f6262", "def": "#0000e0", "error": "#c00000", "header": "#0000e0", "keyword": "#006b00",
    "link": "#0000cc", "meta": "#8617c9", "number": "#006b00", "operator": "#8617c9", "property": "#004b96",
    "punctuation": "#004b96", "qualifier": "#4d4d4d", "quote": "#006b00", "string": "#a11c1c", "tag": "#0f6b00",
}
PROMPT_COLOURS = {"inprompt": "#245f91", "outprompt": "#9b4a31", "prompt-not-active": "#595959"}
NAV_COLOURS = {"text": "#212121", "link": "#0b3d91", "muted": "#4d4d4d"}

_CSS = ("\n:root {" + "".join(f"--jp-mirror-editor-{k}-color: {v};" for k, v in CODE_COLOURS.items())
        + f"--jp-cell-inprompt-font-color: {PROMPT_COLOURS['inprompt']};"
        + f"--jp-cell-outprompt-font-color: {PROMPT_COLOURS['outprompt']};"
        + f"--jp-cell-prompt-not-active-font-color: {PROMPT_COLOURS['prompt-not-active']};"
        + "--jp-cell-prompt-not-active-opacity: 1;}\n"
        + ".jp-RenderedHTMLCommon a:link, .jp-RenderedHTMLCommon a:visited, .course-nav a { text-decoration: underline; }\n"
        + f".course-nav {{ font-family: sans-serif; font-size: 14px; color: {NAV_COLOURS['text']};"
        + " padding: 6px 16px; border-bottom: 1px solid #ccc; background: #fff; }\n"
        + ".course-nav.bottom { border-top: 1px solid #ccc; border-bottom: none; margin-top: 2em; }\n"
        + f".course-nav a {{ color: {NAV_COLOURS['link']}; }}\n"
        + ".course-nav .bar { display: flex; gap: 1.5em; flex-wrap: wrap; }\n"
        + ".course-nav .next { margin-left: auto; }\n"
        + ".course-nav details { margin-top: 4px; } .course-nav summary { cursor: pointer; }\n"
        + ".course-nav ol { list-style: none; padding-left: 0; margin: 4px 0; }\n"
        + ".course-nav li { margin: 2px 0; }\n"
        + f".course-nav .meta {{ color: {NAV_COLOURS['muted']}; }}\n")

_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<style>{{ resources.course_css }}</style>{%- endblock html_head_css -%}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
{{ resources.course_nav_top }}
<main>
{%- endblock body_header -%}
{% block body_footer %}
</main>
{{ resources.course_nav_bottom }}
</body>
{% endblock body_footer %}
{% block data_png scoped %}
{%- set alt = output | get_metadata('alt', 'image/png') -%}
{{ super() | replace('<img ', '<img alt="' ~ (alt | escape_html) ~ '" ', 1) }}
{%- endblock data_png %}
"""


@dataclass
class Page:
    href: str
    title: str
    topic: str
    time: str | None          # measured full-run time, from the README


def title_and_topic(nb) -> tuple[str, str]:
    """The first cell's `# ` heading and its italic subtitle."""
    lines = nb.cells[0].source.splitlines()
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), lines[0].lstrip("# ").strip())
    topic = next((line.strip().strip("*_").strip() for line in lines[1:]
                  if re.match(r"^\s*[*_][^*_]", line)), "")
    return title, topic


def _time(page: Page) -> str:
    return (_("full run: {time}").format(time=page.time) if page.time
            else _("full run: no time measured in the README"))


# Each edition's pages link to the same page of the other: English at the root, Chinese in zh/.
SWITCH = {"en": ("zh/", "中文", "zh-CN"), "zh": ("../", "English", "en")}     # (link, label, the other's code)
HTML_LANG = {"en": "en", "zh": "zh-CN"}


def language_switch(href: str, lang: str) -> str:
    prefix, label, code = SWITCH[lang]
    return (f'<a class="lang" href="{prefix}{html.escape(href)}" hreflang="{code}" lang="{code}">{label}</a>')


def course_map(pages: list[Page], current: str | None = None) -> str:
    items = []
    for p in pages:
        here = ' aria-current="page"' if p.href == current else ""
        about = f"{p.topic} ({_time(p)})" if p.topic else f"({_time(p)})"
        items.append(f'<li><a href="{html.escape(p.href)}"{here}>{html.escape(p.title)}</a>'
                     f' <span class="meta">{html.escape(about)}</span></li>')
    return "<ol>\n" + "\n".join(items) + "\n</ol>"


def navigation(pages: list[Page], i: int, where: str, lang: str = "en") -> str:
    """The previous/next bar (and, at the top, the course map and the language switch) of page `i`."""
    prev = (f'<a href="{html.escape(pages[i - 1].href)}" rel="prev">'
            + _("← previous: {title}").format(title=html.escape(pages[i - 1].title)) + "</a>" if i > 0 else "")
    nxt = (f'<a class="next" href="{html.escape(pages[i + 1].href)}" rel="next">'
           + _("next: {title} →").format(title=html.escape(pages[i + 1].title)) + "</a>" if i + 1 < len(pages) else "")
    switch = language_switch(pages[i].href, lang) if where == "top" else ""
    bar = f'<div class="bar"><a href="index.html">' + _("Course map") + f"</a>{prev}{nxt}{switch}</div>"
    if where == "top":
        label = _("Course navigation")
        extra = ("<details><summary>" + _("All {n} notebooks ({title}: {time})").format(
            n=len(pages), title=html.escape(pages[i].title), time=html.escape(_time(pages[i])))
            + f"</summary>{course_map(pages, pages[i].href)}</details>")
    else:
        label, extra = _("Previous and next notebook"), ""
    return f'<nav class="course-nav {where}" aria-label="{label}">{bar}{extra}</nav>'


def _offline_notebook(nb):
    """Drop the live widgets (they need a kernel) and their saved state; keep everything else."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    return nb


def render_page(nb, title: str | None = None, nav_top: str = "", nav_bottom: str = "", lang: str = "en") -> str:
    """One notebook (an nbformat node; a copy is changed) as an offline HTML page."""
    import copy

    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    add_alt_text(nb)
    nb = final_streams(_offline_notebook(nb))
    nb.metadata["title"] = title or title_and_topic(nb)[0]
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"course_site.html.j2": _TEMPLATE})],
                            template_file="course_site.html.j2",
                            language_code=lang)         # nbconvert takes ISO 639-1 only: "zh", made "zh-CN" below
    body, _unused = exporter.from_notebook_node(nb, resources={"course_css": _CSS, "course_nav_top": nav_top,
                                                         "course_nav_bottom": nav_bottom})
    body = _EXTERNAL_SCRIPT.sub("", body)                               # safety: nothing from the network
    if lang != "en":
        body = body.replace(f'<html lang="{lang}">', f'<html lang="{HTML_LANG[lang]}">', 1)
    body = re.sub(r"<th>\s*</th>", "<td></td>", body)                   # an empty corner is not a header
    return re.sub(r'href="([\w.-]+)\.ipynb(#[^"]*)?"', r'href="\1.html\2"', body)   # links between notebooks


def render_index(pages: list[Page], times_note: str = "", source_note: str = "", lang: str = "en") -> str:
    items = "\n".join(f'<li><a href="{html.escape(p.href)}">{html.escape(p.title)}</a>'
                      + (f"<br><em>{html.escape(p.topic)}</em>" if p.topic else "")
                      + f'<br><span class="meta">{html.escape(_time(p))}</span></li>'
                      for p in pages)
    times = ("<p>" + _("Times: {note}, from the README's table of notebooks.").format(note=html.escape(times_note))
             + "</p>" if times_note else "")
    intro = _("The {source}, with their saved outputs, as static pages. To run them and move the widgets, clone the "
              "repository and run <code>{command}</code> (see the README).").format(
        source=html.escape(source_note or _("committed notebooks")), command="make lab" if lang == "en" else "make lab-zh")
    return f"""<!DOCTYPE html>
<html lang="{HTML_LANG[lang]}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{_("Residual networks in PyTorch: the course")}</title>
<style>body{{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.5;padding:0 1em;color:#212121}}
li{{margin:0.8em 0}} a{{color:#0b3d91;text-decoration:underline}} .meta{{color:#4d4d4d}}
ul.course-map{{list-style:none;padding-left:0}}</style></head>
<body><main><p>{language_switch("index.html", lang)}</p><h1>{_("Residual networks in PyTorch: a hands-on course")}</h1>
<p>{intro}</p>
{times}
<nav aria-label="{_("Course map")}"><ul class="course-map">
{items}
</ul></nav></main></body></html>
"""


def build_site(out: Path, notebooks: Path = NOTEBOOKS, log=print) -> list[Path]:
    """Write both editions: English in `out`, Chinese (notebooks/zh/) in `out`/zh; return the paths written."""
    written = build_edition(out, notebooks, "en", log)
    if (notebooks / "zh").is_dir():
        with using("zh"):
            written += build_edition(out / "zh", notebooks / "zh", "zh", log)
    return written


def build_edition(out: Path, notebooks: Path, lang: str, log=print) -> list[Path]:
    """Write index.html and one page per committed notebook into `out`; return the paths written."""
    import nbformat

    sources, readme, committed = notebook_sources(notebooks, log)
    if not sources:
        raise SystemExit(f"no notebooks found in {notebooks}")
    nbs = [nbformat.reads(s.text, as_version=4) for s in sources]
    if lang == "en":
        times_note, times = notebook_times(readme or "")
    else:                                   # this edition's own run, from its notebooks' saved timings
        from .runtimes import duration, notebook_seconds

        times_note = _("full run, measured on a 2-core CPU (`jupyter nbconvert --execute`)")
        seconds = {Path(s.name).stem: notebook_seconds(nb) for s, nb in zip(sources, nbs)}
        times = {stem: duration(t) for stem, t in seconds.items() if t is not None}
    pages = []
    for s, nb in zip(sources, nbs):
        title, topic = title_and_topic(nb)
        pages.append(Page(Path(s.name).stem + ".html", title, topic, times.get(Path(s.name).stem)))
    missing = [p.href[:-5] for p in pages if not p.time]
    if missing:
        log(f"the README's table of notebooks gives no full-run time for {', '.join(missing)}; "
            "the site says so on their pages")
    changed = [s.name for s in sources if s.differs]
    if changed:
        log(f"{len(changed)} notebook(s) differ from the committed version ({', '.join(changed)}); "
            "the site shows the committed ones")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (page, nb) in enumerate(zip(pages, nbs)):
        path = out / page.href
        write_text(path, render_page(nb, page.title, navigation(pages, i, "top", lang),
                                     navigation(pages, i, "bottom", lang), lang))
        written.append(path)
    index = out / "index.html"
    write_text(index, render_index(pages, times_note, _("committed notebooks") if committed else
                                   _("working copies of the notebooks (not the committed versions)"), lang))
    return [index, *written]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.tools.site", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site")
    args = parser.parse_args(argv)
    paths = build_site(args.out)
    print(f"wrote {len(paths)} pages to {args.out}; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
