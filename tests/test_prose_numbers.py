"""Every number in the notebooks' prose is printed by the notebook or names its source.

A number of three or more significant digits in a markdown cell passes when
  - a code cell of the same notebook prints it (its committed outputs, full mode), or
  - the sentence it sits in names its source: the paper with a section, table or figure,
    a seed file, torchvision, or the NNDL book, or
  - it is on the short list of exceptions below (years, model names, and the like).
Results that depend on a run are printed by code, so they pass the first way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

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
