"""Each course_lib module imports only modules below it in this order (the README's table):
data flows from `config` up to `widgets`, and nothing reaches back up a layer."""

import ast
from pathlib import Path

import course_lib

ORDER = ["i18n", "fonts", "config", "files", "report", "stats", "accessibility", "assets", "data", "models", "metrics", "training", "analysis", "profiling",
         "plotting", "diagrams", "predict", "pretrained", "experiments", "budget", "probes", "transfer", "explorer", "checks", "widgets",
         "snapshot", "tools", "hints", "environment", "__main__"]
PACKAGE = Path(course_lib.__file__).parent


def _is_main_guard(node) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


def imported_siblings(path: Path) -> set[str]:
    """Sibling modules a module (or every file of a subpackage) imports, an `if __name__ ==
    "__main__":` entry point aside; imports inside a subpackage of its own files do not count."""
    if path.with_suffix("").is_dir():
        return set().union(*(_imported(p, inner=True) for p in path.with_suffix("").glob("*.py")))
    return _imported(path, inner=False)


def _imported(path: Path, inner: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    tree.body = [n for n in tree.body if not _is_main_guard(n)]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == (2 if inner else 1):
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_lib."):
            names.add(node.module.split(".")[1])
    return names


def test_every_module_is_placed():
    modules = ({p.stem for p in PACKAGE.glob("*.py")} | {p.parent.name for p in PACKAGE.glob("*/__init__.py")}) - {"__init__"}
    assert modules == set(ORDER)


def test_no_module_imports_one_above_it():
    upward = []
    for name in ORDER:
        for dep in imported_siblings(PACKAGE / f"{name}.py"):
            if ORDER.index(dep) >= ORDER.index(name):
                upward.append(f"{name} imports {dep}")
    assert upward == []
