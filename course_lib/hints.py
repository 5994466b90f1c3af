"""A NameError in a notebook cell says which earlier cell defines the name.

Running cells out of order, or after a kernel restart, gives bare `NameError`s. Importing
`course_lib` in IPython adds one paragraph under such an error: the code cell of this notebook
that defines the name (found by parsing the saved notebook), and how to run the cells above.
The traceback itself is kept, so tests and tools still see the error.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from .i18n import _


def _bound_names(source: str) -> set[str]:
    """Names a cell binds: assignments, loop and with targets, imports, defs and classes."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def defining_cell(cells: list[str], name: str) -> int | None:
    """The index (0-based, among code cells) of the first code cell that binds `name`."""
    for i, source in enumerate(cells):
        if name in _bound_names(source):
            return i
    return None


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")), "")


def name_error_hint(name: str, cells: list | None, current: int | None = None) -> str:
    """The paragraph shown under a NameError for `name`, given the notebook's code cells (their
    sources, or the cells themselves with their saved timings) and the index of the cell that failed."""
    from .tools.runtimes import SLOW_SECONDS, cell_seconds, duration, ordinal

    sources = [c if isinstance(c, str) else "".join(c.get("source", "")) for c in cells or []]
    rerun = _("Run the cells above this one first (Run → Run All Above Selected Cell); after a "
              "kernel restart every earlier cell must run again.")
    where = defining_cell(sources, name) if sources else None
    if where is None:
        return _("Hint: `{name}` is not defined yet. {rerun}").format(name=name, rerun=rerun)
    text = _("Hint: `{name}` is defined in the {ordinal} code cell from the top of this notebook (the number in "
             "In [ ] counts runs, not cells), the one that starts with `{first_line}`. ").format(
        name=name, ordinal=ordinal(where + 1), first_line=_first_line(sources[where])[:60]) + rerun
    stop = current if current is not None else len(sources)
    slow = [(i, cell_seconds(c)) for i, c in enumerate(cells[:stop]) if not isinstance(c, str)]
    slow = [(i, t) for i, t in slow if t is not None and t > SLOW_SECONDS]
    if slow:
        text += _(" On the way, {cells} in the committed run: to save that time, run only the cells you need, one by "
                  "one.").format(cells=_("; ").join(
                      _("the {ordinal} code cell (`{first_line}`) took {time}").format(
                          ordinal=ordinal(i + 1), first_line=_first_line(sources[i])[:40], time=duration(t))
                      for i, t in slow))
    return text


def notebook_code_cells() -> list[dict] | None:
    """The code cells of the notebook this kernel runs, read from disk (Jupyter tells the
    kernel its path in $JPY_SESSION_NAME); None when unknown."""
    session = os.environ.get("JPY_SESSION_NAME")
    if not session:
        return None
    for path in (Path(session), Path.cwd() / Path(session).name):
        if path.suffix == ".ipynb" and path.is_file():
            try:
                nb = json.loads(path.read_text(encoding="utf-8"))
                return [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
            except (OSError, ValueError):
                return None
    return None


def _handler(shell, etype, value, tb, tb_offset=None):
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    name = getattr(value, "name", None)
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    in_a_cell = bool(frames) and ("ipykernel" in frames[-1] or frames[-1].startswith("<ipython-input"))
    if name and in_a_cell:                      # a name missing in the learner's own cell
        cells = notebook_code_cells()
        ran = (shell.user_ns.get("In") or [""])[-1].strip()
        current = next((i for i, c in enumerate(cells or []) if "".join(c.get("source", "")).strip() == ran), None)
        print(name_error_hint(name, cells, current))


def install(shell=None) -> bool:
    """Add the hint to NameErrors in the running IPython shell; False outside IPython."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((NameError,), _handler)
    return True
