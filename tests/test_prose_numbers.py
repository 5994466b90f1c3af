"""Every number in the prose is printed by the course or names its source.

The prose is every notebook's markdown, the six READMEs (README.zh.md and the translators' guide among them) and the module docstrings of `course_lib`.
A number of three or more significant digits in a markdown cell passes when
  - a code cell of the same notebook prints it (its committed outputs, full mode), or
  - the sentence it sits in names its source: the paper with a section, table or figure,
    a seed file, torchvision, or the NNDL book, or
  - it is on the short list of exceptions below (years, model names, and the like).
Results that depend on a run are printed by code, so they pass the first way.

In a README or a docstring, "printed" means printed by any notebook, and a sentence may also name
its source as a command in backticks (`python ...`, `make ...`, `jupyter ...`, `npm ...`) or a
committed results file (`data/results/*.json`). A table's rows share the source of the sentence
that introduces the table. The generated part of `data/results/README.md` is checked against the
files' `meta` instead (tests/test_provenance.py), and dotted versions (2.14.1) are names, not claims.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
READMES = [ROOT / "README.md", ROOT / "data" / "README.md", ROOT / "data" / "results" / "README.md",
           ROOT / "benchmarks" / "README.md", ROOT / "README.zh.md", ROOT / "course_lib" / "locale" / "zh_CN" / "README.md"]
MODULES = sorted((ROOT / "course_lib").rglob("*.py"))

# A sentence names its source when it matches this.
SOURCE = re.compile(
    r"§\s*\d|\bTable\s+\d|\bFig(?:ure|\.)?\s*\d|\bAppendix\b|\bseed\s+(?:file\s+)?`?\d{3}|"
    r"\b00[0-4]_[0-9a-f]{16}\.txt\b|torchvision|\bNNDL\b|\bKeras (?:docs|documentation)\b|"
    r"\bPyTorch (?:docs|documentation)\b|\bdata/README\.md\b",
    re.IGNORECASE)

# Numbers that are names, settings or dates rather than claims.
EXCEPTIONS = {
    "224", "112",                                  # ImageNet input size and its half, a setting
    "255",                                         # the largest 8-bit pixel value, a convention
    "1000",                                        # ImageNet's 1,000 classes
    "110",                                         # the depth of the paper's deepest CIFAR net
    "8000",                                        # the bundled training split's size, a setting
    "6.1",                                         # a notebook's exercise number
}

# Outside the notebooks a sentence may also name a command or a committed results file.
COMMAND = re.compile(r"`(?:\.venv/bin/)?(?:python3?|make|jupyter|npm) [^`]+`|data/results/\w+\.json")
VERSION = re.compile(r"\d+\.\d+\.\d+|arXiv:\S+")

YEAR = re.compile(r"19[5-9]\d|20[0-2]\d")                   # years of the papers and posts cited
NUMBER = re.compile(r"(?<![\w.\-/])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w])")


def significant_digits(text: str) -> int:
    whole, _, frac = text.replace(",", "").partition(".")
    if frac:
        return len((whole + frac).lstrip("0"))
    return len(whole.strip("0")) or 1


def prose(md: str) -> str:
    md = re.sub(r"```.*?```", " ", md, flags=re.S)          # code blocks
    md = re.sub(r"`(00[0-4]_[0-9a-f]{16}\.txt)`", r"\1", md)  # a seed file named in code: keep the name
    md = re.sub(r"`[^`]*`", " ", md)                        # other inline code
    md = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", md, flags=re.S)  # math
    md = re.sub(r"\]\([^)]*\)", "]", md)                    # link targets
    md = re.sub(r"<[^>]+>", " ", md)                        # html tags
    return md


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z*(\[])|\n\s*\n|\n(?=\s*[-*|#]|\s*\d+\.)", text)
    return [p for p in parts if p.strip()]


def printed_numbers(nb: dict) -> set[str]:
    """Every number in the text outputs of the notebook's code cells, normalised."""
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            if "text" in o:
                out.append("".join(o["text"]))
            for key in ("text/plain", "text/markdown", "text/html"):
                if key in o.get("data", {}):
                    out.append("".join(o["data"][key]))
    return {m.group(0).replace(",", "") for m in re.finditer(r"\d[\d,]*(?:\.\d+)?", "\n".join(out))}


def is_printed(number: str, printed: set[str]) -> bool:
    n = number.replace(",", "")
    if n in printed:
        return True
    decimals = len(n.partition(".")[2])
    value = float(n)
    for p in printed:
        try:
            v = float(p)
        except ValueError:
            continue
        for scale in (1, 100, 0.01, 1e-6, 1e-9, 1e-3):         # 92.4% vs 0.924; 11.18 M vs 11180170
            if round(v * scale, decimals) == value and abs(v * scale - value) <= 0.5 * 10 ** -decimals + 1e-12:
                return True
    return False


def unsourced_numbers(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    printed = printed_numbers(nb)
    bad = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for sentence in sentences(prose("".join(cell["source"]))):
            if SOURCE.search(sentence):
                continue
            for m in NUMBER.finditer(sentence):
                number = m.group(1) + (m.group(2) or "")
                if (significant_digits(number) < 3 or number.replace(",", "") in EXCEPTIONS
                        or YEAR.fullmatch(number)):
                    continue
                if not is_printed(number, printed):
                    bad.append(f"cell {i}: {number!r} in: {' '.join(sentence.split())[:160]}")
    return bad


def all_printed_numbers() -> set[str]:
    printed = set()
    for path in NOTEBOOKS:
        printed |= printed_numbers(json.loads(path.read_text()))
    return printed


def generated_removed(text: str) -> str:
    from course_lib.tools.provenance import BEGIN, END
    return re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), " ", text, flags=re.S)


def unsourced_in_text(text: str, printed: set[str], where: str) -> list[str]:
    """The same rule for a README or a docstring: sentences, with tables inheriting their introduction."""
    text = re.sub(r"```.*?```", " ", generated_removed(text), flags=re.S)
    bad, intro_sourced = [], False
    for block in re.split(r"\n\s*\n", text):
        is_table = block.lstrip().startswith("|")
        units = [block] if is_table else sentences(block)
        for raw in units:
            sourced = bool(SOURCE.search(prose(raw)) or COMMAND.search(raw)) or (is_table and intro_sourced)
            clean = VERSION.sub(" ", prose(raw))
            if not sourced:
                for m in NUMBER.finditer(clean):
                    number = m.group(1) + (m.group(2) or "")
                    if (significant_digits(number) < 3 or number.replace(",", "") in EXCEPTIONS
                            or YEAR.fullmatch(number) or is_printed(number, printed)):
                        continue
                    bad.append(f"{where}: {number!r} in: {' '.join(raw.split())[:160]}")
        last = units[-1] if units and not is_table else ""
        intro_sourced = bool(SOURCE.search(prose(last)) or COMMAND.search(last))
    return bad


@pytest.mark.parametrize("path", READMES, ids=[str(p.relative_to(ROOT)) for p in READMES])
def test_every_readme_number_is_printed_or_sourced(path):
    bad = unsourced_in_text(path.read_text(encoding="utf-8"), all_printed_numbers(), path.name)
    assert not bad, "numbers in the README that no notebook prints and no source backs:\n  " + "\n  ".join(bad)


def test_every_docstring_number_is_printed_or_sourced():
    printed, bad = all_printed_numbers(), []
    for path in MODULES:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        bad += unsourced_in_text(doc, printed, str(path.relative_to(ROOT)))
    assert not bad, "numbers in module docstrings that no notebook prints and no source backs:\n  " + "\n  ".join(bad)


def test_the_readme_checker_catches_an_unsourced_number():
    text = ("The sweep took 52.5 minutes.\n\nMeasured by `make bench`:\n\n| a | 424 img/s |\n\n"
            "| b | 917 img/s |\n\nPython 3.11.7 and torch 2.14.1 were used.")
    bad = unsourced_in_text(text, set(), "x")
    assert len(bad) == 2 and "52.5" in bad[0] and "917" in bad[1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_prose_number_is_printed_or_sourced(path):
    bad = unsourced_numbers(path)
    assert not bad, ("numbers in the prose that no cell prints and no source backs:\n  "
                     + "\n  ".join(bad))


def test_the_checker_catches_an_unsourced_number(tmp_path):
    nb = {"cells": [
        {"cell_type": "code", "source": "print(0.9876)", "outputs": [{"name": "stdout", "text": "0.9876\n"}]},
        {"cell_type": "markdown", "source": "The net reaches 0.9876. It is 3.14159 times better.\n\n"
                                              "He et al. (§4.2, Table 6) report 0.85 M and 6.43%."}]}
    p = tmp_path / "x.ipynb"
    p.write_text(json.dumps(nb))
    bad = unsourced_numbers(p)
    assert len(bad) == 1 and "3.14159" in bad[0]
    assert significant_digits("0.0050") == 2 and significant_digits("11,180,170") == 7
    assert significant_digits("8,000") == 1 and significant_digits("224") == 3
