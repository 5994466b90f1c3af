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


def name_error_hint(name: str, cells: list[str] | None) -> str:
    """The paragraph shown under a NameError for `name`, given the notebook's code cells."""
    rerun = ("Run the cells above this one first (Run → Run All Above Selected Cell); after a "
             "kernel restart every earlier cell must run again.")
    where = defining_cell(cells, name) if cells else None
    if where is None:
        return f"Hint: `{name}` is not defined yet. {rerun}"
    first = next((line.strip() for line in cells[where].splitlines()
                  if line.strip() and not line.strip().startswith("#")), "")
    return (f"Hint: `{name}` is defined in code cell {where + 1} of this notebook, the one that "
            f"starts with `{first[:60]}`. {rerun}")


def notebook_code_cells() -> list[str] | None:
    """The code cells of the notebook this kernel runs, read from disk (Jupyter tells the
    kernel its path in $JPY_SESSION_NAME); None when unknown."""
    session = os.environ.get("JPY_SESSION_NAME")
    if not session:
        return None
    for path in (Path(session), Path.cwd() / Path(session).name):
        if path.suffix == ".ipynb" and path.is_file():
            try:
                nb = json.loads(path.read_text(encoding="utf-8"))
                return ["".join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "code"]
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
        print(name_error_hint(name, notebook_code_cells()))


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
