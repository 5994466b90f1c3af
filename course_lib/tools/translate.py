"""The Chinese edition, built from the English notebooks and translation catalogs.

The English notebooks are the source. Each has a catalog, `course_lib/locale/zh_CN/notebooks/<name>.po`,
whose message ids are its markdown cells; `course_lib/locale/zh_CN/LC_MESSAGES/course_lib.po` holds
what `course_lib` prints (see `course_lib/i18n.py`). `notebooks/zh/<name>.ipynb` is the English
notebook with each markdown cell replaced by its translation and each code cell copied with only its
comments (the catalog's entries with context "code comment") and the string literals it prints or draws
(`print`'s arguments, a figure's title, axis labels and legend labels: context "code string") translated; a
translated string must keep the English's {fields} exactly (`string_problem`). A code cell keeps the
outputs of the last zh run while its code, comments and those strings aside, is unchanged.

    python -m course_lib.tools.translate extract   # bring every catalog up to date with the English
    python -m course_lib.tools.translate todo      # what needs translating: missing, stale (fuzzy) entries
    python -m course_lib.tools.translate build     # write notebooks/zh/*.ipynb from the catalogs
    python -m course_lib.tools.translate check     # fail on anything stale, missing, off-glossary or unbuilt

An English cell that changes no longer matches its entry: `extract` keeps the old translation as a
fuzzy entry (with the old English as its previous msgid), and `check` fails until it is retranslated.
`build` never ships English silently: it still writes the notebooks (a stale entry as its old
translation, marked stale), names every cell left untranslated or stale, and exits 1.
"""

from __future__ import annotations

import argparse
import ast
import copy
import csv
import difflib
import io
import json
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

from . import runtimes
from ..files import write_text
from ..i18n import DOMAIN, LOCALE_DIR, catalog_path, catalog_problems, using

ROOT = Path(__file__).resolve().parents[2]
_PACKAGE = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LANG = "zh"
OUT = NOTEBOOKS / LANG
CATALOGS = LOCALE_DIR / "zh_CN" / "notebooks"
GLOSSARY = LOCALE_DIR / "zh_CN" / "glossary.csv"
SEED_QUOTES = ROOT / "data" / "seed_quotes.json"
README_ZH = ROOT / "README.zh.md"
_HEADER = {"Project-Id-Version": "course_lib 0.1.0", "Language": "zh_CN", "MIME-Version": "1.0",
           "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit"}


# ---------------------------------------------------------------------------------------------
# catalogs
# ---------------------------------------------------------------------------------------------

def english_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def notebook_catalog(notebook: Path) -> Path:
    return CATALOGS / f"{notebook.stem}.po"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def without_run_times(text: str) -> str:
    """A markdown cell without what `course_lib.tools.runtimes` writes from a run's timings (the header
    line, the notes above slow cells, the course map's time column): each edition writes its own."""
    from .runtimes import HEADER, SLOW_NOTE

    text = SLOW_NOTE.sub("", HEADER.sub("", text)).rstrip("\n")
    lines, in_map = text.split("\n"), False
    for i, line in enumerate(lines):
        if line.startswith("| # |") and line.count(" | ") == 3:
            in_map = True
        elif not line.startswith("|"):
            in_map = False
        if in_map:
            cells = [c.strip() for c in line.strip().strip("|").split("|")][:3]
            lines[i] = ("|" + "|".join(cells) + "|") if set("".join(cells)) <= set("-: ") else "| " + " | ".join(cells) + " |"
    return "\n".join(lines)


def markdown_cells(notebook: Path) -> list[tuple[int, str]]:
    """(cell index, text to translate) of each non-empty markdown cell of a notebook."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [(i, without_run_times(_source(c))) for i, c in enumerate(cells)
            if c["cell_type"] == "markdown" and _source(c).strip()]


COMMENT = "code comment"                  # the msgctxt of a code comment's entry
_PROSE = re.compile(r"[A-Za-z]{3,}")
_NOT_PROSE = re.compile(r"^(noqa|type:|pragma|fmt:)")
STALE_MARK = "> ⚠️ 此段译文已过期：英文原文改过，尚未重译。\n\n"
STALE_COMMENT = "（译文已过期）"


def _comment_tokens(src: str) -> list[tuple[int, int, int, str]]:
    """(line index, start column, end column, text) of each comment of a code cell's source."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return [(t.start[0] - 1, t.start[1], t.end[1], t.string) for t in tokens if t.type == tokenize.COMMENT]


def comment_message(comment: str) -> str | None:
    """The text to translate of a comment ('# the layers' -> 'the layers'); None for one that is not
    prose (a shape such as '# (1, 3, 224, 224)', a marker such as '# (2)' or '# noqa: E731')."""
    body = comment[1:].strip()
    if not _PROSE.search(body) or _NOT_PROSE.match(body):
        return None
    return body


def code_comments(notebook: Path) -> list[tuple[int, str]]:
    """(cell index, comment text) of each prose comment of the notebook's code cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [(i, msg) for i, c in enumerate(cells) if c["cell_type"] == "code"
            for *_pos, text in _comment_tokens(_source(c)) if (msg := comment_message(text)) is not None]


def without_comments(src: str) -> str:
    """A code cell's source with its comments removed (and the spaces before them): what must be the
    same in both editions, and what decides whether a saved output still belongs to the code."""
    lines = src.split("\n")
    for line, start, end, _text in reversed(_comment_tokens(src)):
        lines[line] = (lines[line][:start] + lines[line][end:]).rstrip()
    return "\n".join(lines)


def with_comments(src: str, translate_comment) -> str:
    """The source with each prose comment replaced by `translate_comment(text)` ('# ' + it)."""
    lines = src.split("\n")
    tokens = [(t, msg) for t in _comment_tokens(src) if (msg := comment_message(t[3])) is not None]
    replaced = [translate_comment(msg) for _t, msg in tokens]          # in reading order
    for ((line, start, end, _text), _msg), zh in reversed(list(zip(tokens, replaced))):
        lines[line] = lines[line][:start] + "# " + zh + lines[line][end:]
    return "\n".join(lines)


STRING = "code string"                    # the msgctxt of a printed or drawn string literal's entry
# Calls whose string arguments a learner reads: printed lines and the texts of a figure.
_TEXT_CALLS = {"print", "set_title", "set_xlabel", "set_ylabel", "suptitle", "title", "xlabel", "ylabel",
               "text", "annotate", "figtext", "set_label", "format_table", "describe_difference",
               "describe_vs_chance"}
_TEXT_KWARGS = {"label", "title", "xlabel", "ylabel"}
_MAGIC = re.compile(r"^[ \t]*[%!]")


def _offsets(src: str):
    """A function (lineno, utf-8 byte column) -> character offset into `src` (what `ast` reports)."""
    lines = src.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    return lambda lineno, col: starts[lineno - 1] + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8"))


def _literal_text(node: ast.expr) -> str:
    """The fixed text of a string literal (an f-string's fields left out)."""
    if isinstance(node, ast.Constant):
        return node.value
    return "".join(v.value for v in node.values if isinstance(v, ast.Constant))


def _is_literal(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(node, ast.JoinedStr)


def _is_text_literal(node: ast.expr) -> bool:
    return _is_literal(node) and _PROSE.search(_literal_text(node)) is not None


_PHRASE = re.compile(r"[A-Za-z]{2,}[ -][A-Za-z]{2,}")    # two words: a label, not a key such as "plain"


def _label_values(node: ast.AST) -> list[ast.expr]:
    """The string literals that `node` holds as values, where a phrase is a label a learner reads (a
    variable's value, an element of a list or tuple, a dict's value, a choice of a conditional, the
    fallback of `or`, a function's docstring), not a key or an argument of a function other than `print`
    and a figure's text."""
    if isinstance(node, ast.Assign):
        values = [node.value]
    elif isinstance(node, (ast.Tuple, ast.List)):
        values = list(node.elts)
    elif isinstance(node, ast.Dict):
        values = list(node.values)
    elif isinstance(node, ast.IfExp):
        values = [node.body, node.orelse]
    elif isinstance(node, ast.BoolOp):
        values = node.values[1:]
    elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("append", "insert"):
        values = list(node.args)
    elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.body and isinstance(node.body[0], ast.Expr):
        values = [node.body[0].value]                            # a docstring the learner reads
    else:
        return []
    values = [v.elt if isinstance(v, (ast.ListComp, ast.GeneratorExp)) else v for v in values]   # [f"..." for k in ks]
    return [v for v in values if isinstance(v, (ast.Constant, ast.JoinedStr))]


def _string_spans(src: str, prose: bool = True) -> list[tuple[int, int]]:
    """(start, end) character offsets of each string literal of a code cell that a learner reads as
    prose: an argument of `print` or of a figure's text (a title, an axis label, a legend label), and a
    phrase of two or more words (or an f-string with a word) held as a label (`_label_values`).
    `prose=False`: every literal in those places, whatever its words (the same places in both editions,
    for comparing their code)."""
    masked = "\n".join("#" + " " * (len(line) - 1) if _MAGIC.match(line) and line else line
                       for line in src.split("\n"))     # IPython magics: same offsets, not Python
    try:
        tree = ast.parse(masked)
    except SyntaxError:
        return []
    at = _offsets(src)
    spans, code = set(), _code_values(tree)
    for node in ast.walk(tree):
        for value in _label_values(node):            # a label kept in a variable, a list or a dict
            if id(value) not in code and _is_literal(value) and (
                    not prose or _is_text_literal(value) and (isinstance(value, ast.JoinedStr)
                                                              or _PHRASE.search(_literal_text(value)))):
                spans.add((at(value.lineno, value.col_offset), at(value.end_lineno, value.end_col_offset)))
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        args = list(node.args) if name in _TEXT_CALLS else []
        args += [k.value for k in node.keywords if k.arg in _TEXT_KWARGS]
        for arg in args:
            for value in _text_parts(arg):
                if _is_literal(value) and (not prose or _is_text_literal(value)):
                    spans.add((at(value.lineno, value.col_offset), at(value.end_lineno, value.end_col_offset)))
    outer = sorted(spans, key=lambda span: (span[0], -span[1]))
    kept = []
    for a, b in outer:                               # a literal inside another one's {field}: the outer one
        if not kept or a >= kept[-1][1]:
            kept.append((a, b))
    return kept


def _text_parts(arg: ast.expr) -> list[ast.expr]:
    """The literals a text argument is made of: itself, a table's column names (a list of words), the
    pieces of `"head " + ("this" if ok else "that")`, the item of `"; ".join(f"..." for k in keys)`."""
    if isinstance(arg, (ast.List, ast.Tuple)):
        return [part for elt in arg.elts for part in _text_parts(elt)]
    if isinstance(arg, ast.Starred):
        return _text_parts(arg.value)
    if isinstance(arg, (ast.ListComp, ast.GeneratorExp)):               # [f"error {a}" for a in arms]
        return _text_parts(arg.elt)
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add):
        return _text_parts(arg.left) + _text_parts(arg.right)
    if isinstance(arg, ast.IfExp):
        return _text_parts(arg.body) + _text_parts(arg.orelse)
    if isinstance(arg, ast.BoolOp):                                     # ", ".join(found) or "none"
        return [part for v in arg.values[1:] for part in _text_parts(v)]
    if (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "join"
            and len(arg.args) == 1 and isinstance(arg.args[0], (ast.GeneratorExp, ast.ListComp))):
        return _text_parts(arg.args[0].elt)          # "; ".join(f"... {k} ..." for k in keys)
    return [arg]


def _code_values(tree: ast.AST) -> set[int]:
    """ids of the nodes whose strings the code itself reads, never translated: what is compared
    (`RUN == "one seed"`), a subscript's key, a setting (`RUN = "one seed"`), and the arguments of a call
    other than `print`, a figure's text, a table's column names or a table's row (`rows.append`)."""
    code = set()
    for node in ast.walk(tree):
        inside = []
        if isinstance(node, ast.Compare):
            inside = [node]
        elif isinstance(node, ast.Subscript):
            inside = [node.slice]
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
            inside = [node.value]
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name not in _TEXT_CALLS and name not in ("append", "insert"):   # rows.append(("label", ...)): a row
                inside = list(node.args) + [k.value for k in node.keywords if k.arg not in _TEXT_KWARGS]
        for part in inside:
            code.update(id(n) for n in ast.walk(part))
    return code


def code_strings(notebook: Path) -> list[tuple[int, str]]:
    """(cell index, source of the literal) of each printed or drawn string of the notebook's code cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [(i, src[a:b]) for i, c in enumerate(cells) if c["cell_type"] == "code"
            for src in [_source(c)] for a, b in _string_spans(src)]


def with_strings(src: str, translate_string) -> str:
    """The source with each printed or drawn string literal replaced by `translate_string(literal)`."""
    for a, b in reversed(_string_spans(src)):
        src = src[:a] + translate_string(src[a:b]) + src[b:]
    return src


def text_literals(src: str) -> list[str]:
    """The literals `skeleton` leaves out, in order (an English one, or its translation)."""
    return [src[a:b] for a, b in _string_spans(src, prose=False)]


def skeleton(src: str) -> str:
    """A code cell's source without its comments and with every string in a printed or drawn place as
    `"…"`: what must be the same in both editions (with `text_literals` equal or translations of each
    other), and what decides whether a saved output still belongs to the code."""
    for a, b in reversed(_string_spans(src, prose=False)):
        src = src[:a] + '"…"' + src[b:]
    return without_comments(src)


def _fields(node: ast.expr) -> list[str]:
    """The f-string's fields as comparable text; a word a field pads (`{'network':14s}`) or chooses between
    (`{'s' if n > 1 else ''}`, `{found or 'none'}`), and the words of an f-string inside it, may be
    translated, nothing else in it."""
    fields = []
    for v in getattr(node, "values", []):
        if isinstance(v, ast.FormattedValue):
            v = copy.deepcopy(v)
            if isinstance(v.value, ast.Constant) and isinstance(v.value.value, str):
                v.value = ast.Constant("…")                          # {'network':14s}: a padded word
            specs = {id(n.format_spec) for n in ast.walk(v) if isinstance(n, ast.FormattedValue) and n.format_spec}
            for sub in ast.walk(v):
                if isinstance(sub, ast.JoinedStr) and id(sub) not in specs:   # {', '.join(f'{m} at {s}' for ...)}
                    sub.values = [p for p in sub.values if not isinstance(p, ast.Constant)]
                elif isinstance(sub, ast.IfExp):
                    for part in ("body", "orelse"):
                        if isinstance(getattr(sub, part), ast.Constant) and isinstance(getattr(sub, part).value, str):
                            setattr(sub, part, ast.Constant("…"))
                elif isinstance(sub, ast.BoolOp):
                    sub.values[1:] = [ast.Constant("…") if isinstance(v, ast.Constant) and isinstance(v.value, str)
                                      else v for v in sub.values[1:]]
            fields.append(ast.dump(v))
    return sorted(fields)


def string_problem(english: str, chinese: str) -> str | None:
    """Why `chinese` cannot replace the string literal `english` in the code (None: it can): it must be
    one string literal of the same kind with exactly the same fields ({expressions} and their formats)."""
    try:
        en = ast.parse("(" + english + ")", mode="eval").body
        zh = ast.parse("(" + chinese + ")", mode="eval").body
    except SyntaxError as e:
        return f"the translation is not a Python string literal ({e.msg})"
    if type(zh) is not type(en) or not isinstance(zh, (ast.Constant, ast.JoinedStr)) \
            or (isinstance(zh, ast.Constant) and not isinstance(zh.value, str)):
        return "the translation is not the same kind of string literal as the English (plain or f-string)"
    if _fields(en) != _fields(zh):
        return "the translation's {fields} differ from the English's"
    return None


def notebook_messages(notebook: Path) -> list[tuple[str, str, str | None]]:
    """(msgid, where, msgctxt) of everything a notebook's catalog translates: its markdown cells, then
    the comments of its code cells, then their printed and drawn strings."""
    where = f"notebooks/{notebook.name}"
    return ([(src, f"{where}:{i}", None) for i, src in markdown_cells(notebook)]
            + [(msg, f"{where}:{i}", COMMENT) for i, msg in code_comments(notebook)]
            + [(lit, f"{where}:{i}", STRING) for i, lit in code_strings(notebook)])


def runtime_messages() -> list[tuple[str, str]]:
    """(msgid, 'module.py:line') of every `_("...")` and `N_("...")` in course_lib."""
    found = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_")
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.append((node.args[0].value, f"{path.relative_to(_PACKAGE.parent)}:{node.lineno}"))
    return found


def _load(path: Path):
    import polib

    if path.exists():
        return polib.pofile(str(path), wrapwidth=0)
    po = polib.POFile(wrapwidth=0)
    po.metadata = dict(_HEADER)
    return po


def update_catalog(path: Path, messages: list[tuple]) -> dict:
    """Make the catalog's live entries exactly `messages` ((msgid, where) or (msgid, where, msgctxt)).
    An entry whose English changed becomes fuzzy, keeping its old translation and the old English as
    previous msgid."""
    import polib

    po = _load(path)
    old = {(e.msgctxt, e.msgid): e for e in po if not e.obsolete}
    wanted, seen = [], set()
    for msgid, where, *ctxt in messages:
        key = (ctxt[0] if ctxt else None, msgid)
        if key not in seen:
            seen.add(key)
            wanted.append((key, where))
    gone = [e for m, e in old.items() if m not in seen]
    counts = {"kept": 0, "new": 0, "fuzzy": 0, "obsolete": 0}
    entries = []
    for (msgctxt, msgid), where in wanted:
        if (msgctxt, msgid) in old:
            entry = old[(msgctxt, msgid)]
            counts["kept"] += 1
        else:
            entry = polib.POEntry(msgid=msgid, msgstr="", msgctxt=msgctxt)
            candidates = [e for e in gone if e.msgctxt == msgctxt]
            match = difflib.get_close_matches(msgid, [e.msgid for e in candidates], n=1, cutoff=0.5)
            if match:
                prev = next(e for e in candidates if e.msgid == match[0])
                if prev.msgstr:
                    entry.msgstr = prev.msgstr
                    entry.flags = ["fuzzy"]
                    entry.previous_msgid = prev.msgid
                    counts["fuzzy"] += 1
                gone.remove(prev)
            if not entry.msgstr:
                counts["new"] += 1
        entry.occurrences = [tuple(where.rsplit(":", 1))] if ":" in where else [(where, "")]
        entries.append(entry)
    for e in gone:
        if e.msgstr:
            e.obsolete = True
            entries.append(e)
            counts["obsolete"] += 1
    fresh = polib.POFile(wrapwidth=0)
    fresh.metadata = po.metadata or dict(_HEADER)
    fresh.extend(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = fresh.__unicode__()
    write_text(path, text)
    return counts


def catalog_errors() -> list[str]:
    """Every syntax, encoding, placeholder and brace problem of the catalogs (see
    `course_lib.i18n.catalog_problems`); nothing is read, built or rewritten from a catalog with one."""
    problems = []
    for path in sorted(CATALOGS.glob("*.po")):
        problems += catalog_problems(path, formats=False)
    runtime = catalog_path(LANG, DOMAIN)
    if runtime.exists():
        problems += catalog_problems(runtime, formats=True)
    return [p.replace(str(ROOT) + "/", "") for p in problems]


def extract() -> None:
    for nb in english_notebooks():
        counts = update_catalog(notebook_catalog(nb), notebook_messages(nb))
        print(f"{notebook_catalog(nb).relative_to(ROOT)}: {counts}")
    counts = update_catalog(catalog_path(LANG, DOMAIN), runtime_messages())
    print(f"{catalog_path(LANG, DOMAIN).relative_to(ROOT)}: {counts}")


def translation_of(entry) -> str | None:
    """An entry's translation when it is current (not fuzzy, not empty, not obsolete)."""
    if entry.obsolete or "fuzzy" in entry.flags or not entry.msgstr.strip():
        return None
    return entry.msgstr


# ---------------------------------------------------------------------------------------------
# building notebooks/zh
# ---------------------------------------------------------------------------------------------

def _anchor(heading: str) -> str:
    """JupyterLab's id for a heading: its text with spaces as dashes."""
    return heading.lstrip("#").strip().replace(" ", "-")


def _headings(markdown: str) -> list[str]:
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6}\s", line):
            lines.append(line)
    return lines


def anchor_map(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """English heading id -> Chinese heading id, pairing the headings of each translated cell in order."""
    out = {}
    for en, zh in pairs:
        for a, b in zip(_headings(en), _headings(zh)):
            out[_anchor(a)] = _anchor(b)
    return out


def _fix_links(text: str, anchors: dict[str, dict[str, str]], own: str) -> str:
    """Links one folder deeper (../x -> ../../x) and heading anchors pointing at the Chinese headings."""
    def link(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"[a-z]+:", target):
            return m.group(0)
        path, _sep, frag = target.partition("#")
        if path.startswith("../"):
            path = "../" + path
            if path.endswith("README.md"):
                path = path[: -len("README.md")] + "README.zh.md"
        if frag:
            stem = Path(path).stem if path else own
            frag = anchors.get(stem, {}).get(frag, frag)
        return f"{m.group(1)}({path}{'#' + frag if frag else ''})"
    return re.sub(r"(\]|\]\s*)\(([^)\s]+)\)", link, text)


def _catalog_entries(nb: Path) -> dict[tuple[str | None, str], object]:
    """(msgctxt, msgid) -> entry: (None, markdown cell), (COMMENT, comment text), (STRING, literal)."""
    path = notebook_catalog(nb)
    return {(e.msgctxt, e.msgid): e for e in _load(path) if not e.obsolete} if path.exists() else {}


def _stale_translation(entry) -> str | None:
    """A fuzzy entry's old translation (shipped marked stale, never as the English)."""
    if entry is None or entry.obsolete or "fuzzy" not in entry.flags or not entry.msgstr.strip():
        return None
    return entry.msgstr


def _code_text(entry, english: str, where: str, kind: str, untranslated: list[str]) -> str:
    """What replaces a comment ("comment") or a printed string ("string") of a code cell: its current
    translation; else its stale one, marked (a comment) or as it was (a string); else the English. A
    string's translation must also pass `string_problem`. Whatever is not current is named in
    `untranslated`."""
    check = string_problem if kind == "string" else (lambda _en, _zh: None)
    zh = translation_of(entry) if entry is not None else None
    if zh is not None and (why := check(english, zh)):
        untranslated.append(f"{where}{kind} {english[:50]!r}: {why}")
        return english
    if zh is None and (old_zh := _stale_translation(entry)) is not None and not check(english, old_zh):
        untranslated.append(f"{where}stale {kind} {english[:50]!r}")
        return old_zh + (STALE_COMMENT if kind == "comment" else "")
    if zh is None:
        untranslated.append(f"{where}{kind} not translated {english[:50]!r}")
        return english
    return zh


def build_notebook(nb: Path, anchors: dict[str, dict[str, str]]) -> tuple[dict, list[str]]:
    """The Chinese notebook (as JSON) and one line for each text not shipped as a current translation
    ('cell 4: untranslated', 'cell 9: stale (comment 'the layers')')."""
    english = json.loads(nb.read_text(encoding="utf-8"))
    entries = _catalog_entries(nb)
    target = OUT / nb.name
    previous, previous_run = {}, None
    if target.exists():
        old_nb = json.loads(target.read_text(encoding="utf-8"))
        previous_run = old_nb.get("metadata", {}).get("course", {}).get("run")    # how its saved run was made
        for cell in old_nb["cells"]:
            if cell["cell_type"] == "code":
                previous[(cell.get("id"), skeleton(_source(cell)))] = cell
    out = copy.deepcopy(english)
    untranslated = []
    for i, cell in enumerate(out["cells"]):
        src = _source(cell)
        if cell["cell_type"] == "markdown" and src.strip():
            src = without_run_times(src)
            entry = entries.get((None, src))
            zh = translation_of(entry) if entry is not None else None
            if zh is None and (old_zh := _stale_translation(entry)) is not None:
                untranslated.append(f"cell {i}: stale (the English changed since it was translated)")
                zh = STALE_MARK + old_zh
            elif zh is None:
                untranslated.append(f"cell {i}: not translated")
                zh = src
            cell["source"] = _fix_links(with_glossary(zh), anchors, nb.stem).splitlines(keepends=True)
        elif cell["cell_type"] == "code":
            def comment(msg: str, i: int = i) -> str:
                return _code_text(entries.get((COMMENT, msg)), msg, f"cell {i}: ", "comment", untranslated)

            def string(literal: str, i: int = i) -> str:
                return _code_text(entries.get((STRING, literal)), literal, f"cell {i}: ", "string", untranslated)
            zh_src = with_comments(with_strings(src, string), comment)
            if zh_src != src:
                cell["source"] = zh_src.splitlines(keepends=True)
            old = previous.get((cell.get("id"), skeleton(src)))
            if old is not None:
                cell["outputs"] = old.get("outputs", [])
                cell["execution_count"] = old.get("execution_count")
                for key in ("execution",):
                    if key in old.get("metadata", {}):
                        cell["metadata"][key] = old["metadata"][key]
                    else:
                        cell["metadata"].pop(key, None)
            else:
                cell["outputs"], cell["execution_count"] = [], None
                cell["metadata"].pop("execution", None)
    out["metadata"]["course"] = {"language": LANG, "source": f"../{nb.name}"}
    if previous_run:
        out["metadata"]["course"]["run"] = previous_run
    with using(LANG):                          # the run-time lines, from this edition's own run
        runtimes.updated(out)
    return out, untranslated


def _dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def all_anchors() -> dict[str, dict[str, str]]:
    anchors = {}
    for nb in english_notebooks():
        entries = _catalog_entries(nb)
        pairs = [(src, translation_of(entries[(None, src)])) for _i, src in markdown_cells(nb)
                 if (None, src) in entries and translation_of(entries[(None, src)])]
        anchors[nb.stem] = anchor_map(pairs)
    return anchors


def build(write: bool = True) -> dict[str, dict]:
    """Build every zh notebook; returns {name: {'text': json text, 'untranslated': [...]}}."""
    anchors = all_anchors()
    built = {nb.name: build_notebook(nb, anchors) for nb in english_notebooks()}
    times = {name[:2]: runtimes.notebook_seconds(out) for name, (out, _u) in built.items() if name[:2].isdigit()}
    start = built.get("00_start_here.ipynb")
    if start is not None:
        with using(LANG):
            for cell in start[0]["cells"]:
                if cell["cell_type"] == "markdown":
                    src = _source(cell)
                    if "\n| # |" in src:              # the course map: a time column from the zh runs
                        runtimes._set(cell, runtimes.course_map_with_times(src, {k: v for k, v in times.items() if v}))
    result = {}
    if README_ZH.exists():
        stamps = [runtimes.run_date(out) for out, _u in built.values() if runtimes.notebook_seconds(out)]
        seconds = {Path(name).stem: runtimes.notebook_seconds(out) for name, (out, _u) in built.items()}
        readme = runtimes.readme_with_times(with_glossary(README_ZH.read_text(encoding="utf-8")),
                                            {k: v for k, v in seconds.items() if v}, max(stamps) if stamps else "unknown")
        result[README_ZH.name] = {"text": readme, "untranslated": []}
        if write and readme != README_ZH.read_text(encoding="utf-8"):
            write_text(README_ZH, readme)
    for nb in english_notebooks():
        out, untranslated = built[nb.name]
        text = _dump(out)
        result[nb.name] = {"text": text, "untranslated": untranslated}
        if write:
            OUT.mkdir(exist_ok=True)
            target = OUT / nb.name
            write_text(target, text)
    return result


# ---------------------------------------------------------------------------------------------
# checks: stale, missing, glossary, numbers
# ---------------------------------------------------------------------------------------------

@dataclass
class Term:
    english: str
    chinese: str
    synonyms: list[str]
    note: str
    note_zh: str = ""
    first_use: bool = True               # the first use in a notebook must give the English


def glossary(path: Path = GLOSSARY) -> list[Term]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [Term(r["english"].strip(), r["chinese"].strip(),
                 [s.strip() for s in (r.get("synonyms_not_used") or "").split("|") if s.strip()], (r.get("note") or "").strip(),
                 (r.get("note_zh") or "").strip(), (r.get("first_use") or "yes").strip().lower() != "no")
            for r in rows]


GLOSSARY_MARK = "<!-- glossary -->"


def glossary_table(terms: list[Term] | None = None) -> str:
    """The glossary for learners (zh 00 and README.zh.md): the English term, the course's Chinese
    term, the names met elsewhere that the course does not use, and a note in Chinese."""
    terms = glossary() if terms is None else terms
    rows = ["| English | 本课程的译法 | 别处会遇到的叫法（本课程不用） | 说明 |", "|---|---|---|---|"]
    for t in terms:
        rows.append(f"| {t.english.replace('|', ' / ')} | {t.chinese} | {'、'.join(t.synonyms) or '—'} | {t.note_zh or '—'} |")
    return "\n".join(rows)


def with_glossary(text: str) -> str:
    """`text` with the glossary mark followed by the current table (replacing an older one)."""
    if GLOSSARY_MARK not in text:
        return text
    head, tail = text.split(GLOSSARY_MARK, 1)
    end = "<!-- /glossary -->"
    tail = tail.split(end, 1)[1] if end in tail else tail
    return f"{head}{GLOSSARY_MARK}\n{glossary_table()}\n{end}{tail}"


def _seed_passages() -> list[str]:
    try:
        return [p["passage"] for p in json.loads(SEED_QUOTES.read_text(encoding="utf-8"))["passages"]]
    except (OSError, ValueError, KeyError):
        return []


def prose_only(markdown: str, passages: list[str] | None = None) -> str:
    """Markdown without code (fenced and inline), link targets, HTML tags and seed quotations."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"<[^>]+>", " ", text)
    for passage in passages if passages is not None else _seed_passages():
        text = text.replace(passage, " ")
    return text


_NOTEBOOK_LINK = re.compile(r"\[[^\]]*\]\([^)\s]*\.ipynb[^)\s]*\)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers(text: str) -> list[str]:
    """The numbers of a text, as written (thousands separators removed)."""
    return [n.replace(",", "") for n in _NUMBER.findall(text)]


def term_problems(name: str, zh_cells: list[tuple[int, str]], terms: list[Term]) -> list[str]:
    """A non-canonical synonym anywhere; a term's first use in the notebook without its English."""
    problems = []
    passages = _seed_passages()
    prose = [(i, prose_only(text, passages)) for i, text in zh_cells]
    # the notebook's title (its `# ` heading) and links naming another notebook by its title may name a
    # term without its English; the body must not
    titles = [(i, "\n".join(line for line in prose_only(_NOTEBOOK_LINK.sub(" ", text), passages).split("\n")
                            if not line.startswith("# "))) for i, text in zh_cells]
    for term in terms:
        for i, text in prose:
            for syn in term.synonyms:
                if syn in text:
                    problems.append(f"{name} cell {i}: '{syn}' is not the glossary's term; write '{term.chinese}' "
                                    f"({term.english.split('|')[0]})")
        for i, text in (titles if term.first_use else ()):
            at = text.find(term.chinese)
            if at < 0:
                continue
            after = text[at + len(term.chinese): at + len(term.chinese) + 80]
            # right after the term, or after the phrase it starts (退化问题（degradation problem）)
            m = re.match(r"[\u4e00-\u9fff]{0,3}\s*[（(]([^）)]*)[）)]", after)
            if not (m and any(e.strip().lower() in m.group(1).lower() for e in term.english.split("|"))):
                problems.append(f"{name} cell {i}: first use of '{term.chinese}' lacks its English: write "
                                f"'{term.chinese}（{term.english.split('|')[0]}）'")
            break
    return problems


def number_problems(name: str, pairs: list[tuple[int, str, str]]) -> list[str]:
    """Each number of a Chinese cell must appear in its English source cell."""
    problems = []
    for i, en, zh in pairs:
        have = set(numbers(prose_only(en, [])))
        for n in numbers(prose_only(zh, [])):
            if n not in have:
                problems.append(f"{name} cell {i}: the number {n} is not in the English cell")
    return problems


def check(built: dict | None = None) -> list[str]:
    """Every problem of the Chinese edition, one line each (empty: all current)."""
    import polib  # noqa: F401  (a clear ImportError here rather than deep inside)

    problems = catalog_errors()
    if problems:
        return problems
    terms = glossary()
    built = build(write=False) if built is None else built
    for nb in english_notebooks():
        path = notebook_catalog(nb)
        if not path.exists():
            problems.append(f"{nb.name}: no catalog {path.relative_to(ROOT)} (run python -m course_lib.tools.translate extract)")
            continue
        entries = _catalog_entries(nb)
        pairs = []
        for msgid, where, ctxt in notebook_messages(nb):
            i = int(where.rsplit(":", 1)[1])
            what = f"{nb.name} cell {i}" + (f" ({'string' if ctxt == STRING else 'comment'} {msgid[:50]!r})" if ctxt else "")
            entry = entries.get((ctxt, msgid))
            if entry is None:
                near = difflib.get_close_matches(msgid, [m for c, m in entries if c == ctxt], n=1, cutoff=0.5)
                problems.append(f"{what}: " + ("the English changed since it was translated" if near else "new English")
                                + ", not in the catalog yet (run python -m course_lib.tools.translate extract, then translate it)")
            elif "fuzzy" in entry.flags:
                problems.append(f"{what}: stale, the English changed since it was translated")
            elif not entry.msgstr.strip():
                problems.append(f"{what}: not translated")
            elif ctxt is None:
                pairs.append((i, msgid, entry.msgstr))
            elif ctxt == STRING and (why := string_problem(msgid, entry.msgstr)):
                problems.append(f"{what}: {why}")
            else:
                kind = "string" if ctxt == STRING else "comment"
                problems += number_problems(f"{nb.name} ({kind} {msgid[:40]!r})", [(i, msgid, entry.msgstr)])
        problems += term_problems(nb.name, [(i, zh) for i, _en, zh in pairs], terms)
        problems += number_problems(nb.name, pairs)
        target = OUT / nb.name
        if not target.exists():
            problems.append(f"notebooks/{LANG}/{nb.name}: missing (run python -m course_lib.tools.translate build)")
        elif target.read_text(encoding="utf-8") != built[nb.name]["text"]:
            problems.append(f"notebooks/{LANG}/{nb.name}: not built from the current catalogs and English notebook "
                            "(run python -m course_lib.tools.translate build)")
    if README_ZH.name in built and README_ZH.read_text(encoding="utf-8") != built[README_ZH.name]["text"]:
        problems.append(f"{README_ZH.name}: its table's times are not those of notebooks/{LANG}/ (run python -m "
                        "course_lib.tools.translate build)")
    for extra in sorted(set(p.name for p in OUT.glob("*.ipynb")) - set(built)):
        problems.append(f"notebooks/{LANG}/{extra}: has no English source")
    runtime = _load(catalog_path(LANG, DOMAIN))
    live = {e.msgid: e for e in runtime if not e.obsolete}
    for msgid, where in runtime_messages():
        entry = live.get(msgid)
        state = ("not in the catalog (run python -m course_lib.tools.translate extract)" if entry is None else
                 "stale, the English changed since it was translated" if "fuzzy" in entry.flags else
                 "not translated" if not entry.msgstr.strip() else None)
        if state:                      # placeholders and braces: catalog_errors(), above
            problems.append(f"course_lib.po ({where}): {state}: {msgid[:70]!r}")
    return problems


def statistics() -> dict:
    """Sizes for the record: glossary terms, translated entries and characters."""
    chars = entries = 0
    for path in [*CATALOGS.glob("*.po"), catalog_path(LANG, DOMAIN)]:
        for e in _load(path):
            if translation_of(e):
                entries += 1
                chars += len(e.msgstr)
    return {"glossary terms": len(glossary()), "translated entries": entries, "translated characters": chars}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.tools.translate", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["extract", "build", "check", "todo", "stats"])
    args = parser.parse_args(argv)
    errors = catalog_errors()
    if errors:
        for line in errors:
            print(line, file=sys.stderr)
        print(f"{len(errors)} problem(s) in the catalogs: fix them (or restore the files with git) before "
              f"`{args.command}` reads them; nothing was written", file=sys.stderr)
        return 1
    if args.command == "extract":
        extract()
        return 0
    if args.command == "build":
        result = build()
        left = [f"notebooks/{LANG}/{k} {line}" for k, v in result.items() for line in v["untranslated"]]
        print(f"built {len(english_notebooks())} notebooks in notebooks/{LANG}/")
        if left:
            for line in left:
                print(line, file=sys.stderr)
            print(f"{len(left)} texts not shipped as a current translation (a stale one ships its old translation, "
                  "marked stale; a missing one ships the English): run python -m course_lib.tools.translate extract, "
                  "then translate them", file=sys.stderr)
            return 1
        print("every markdown cell, code comment and printed string translated")
        return 0
    if args.command == "stats":
        for k, v in statistics().items():
            print(f"{k}: {v:,}")
        return 0
    problems = check()
    if args.command == "todo":
        problems = [p for p in problems if "stale" in p or "not translated" in p or "not in the catalog" in p]
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problems", file=sys.stderr)
        return 1
    print("the Chinese edition is complete and current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
