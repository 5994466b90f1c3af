"""Freeze a saved notebook's widgets to their pictures, for readers who open it before it runs.

`course_lib.snapshot.show(widget)` displays one output holding the live widget and a PNG picture of
it. After a notebook has been executed to be committed, run

    python -m course_lib.tools.freeze notebooks/*.ipynb notebooks/zh/*.ipynb

to drop the live half of every such output (and the saved widget state): before anything runs, in
JupyterLab trusted or not, the picture is all there is. The notebook is rewritten through
`course_lib.files` (atomically: a failed write leaves it whole).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..files import write_text
from ..snapshot import WIDGET


def freeze_notebook(nb: dict) -> int:
    """Drop the live half of every widget output that has a picture, and the saved widget state.
    Returns the number of widget outputs frozen; a widget output without a picture is an error."""
    frozen = 0
    nb.get("metadata", {}).pop("widgets", None)
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET in data:
                if "image/png" not in data:
                    raise ValueError(f"cell {i} displays a widget without a saved picture: display it with "
                                     "course_lib.snapshot.show(widget)")
                del data[WIDGET]
                frozen += 1
    return frozen


def freeze(path: Path) -> int:
    """`freeze_notebook` on a notebook file, keeping its JSON layout."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    n = freeze_notebook(nb)
    write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.tools.freeze", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="executed notebooks (.ipynb) to freeze")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            parser.error(f"{path}: not a notebook file (.ipynb)")
    for path in args.notebooks:
        try:
            n = freeze(path)
        except (ValueError, OSError) as err:
            print(f"{path}: {err}", file=sys.stderr)
            return 1
        print(f"{path}: {n} widget output(s) frozen to their saved pictures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
