"""What a Chinese learner sees in notebooks/zh is Chinese (issue 26): printed lines, code comments and
figures are counted, and every English line left must be one of the named exceptions below.

    python tests/test_zh_edition.py [notebooks/zh/*.ipynb]    # the counts, and every line counted
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
WORD = re.compile(r"[A-Za-z]{2,}")

# Text a learner reads that stays English on purpose: each with the reason.
EXCEPTIONS = [
    (re.compile(r"Error\(s\) in loading state_dict|(Missing|Unexpected) key\(s\) in state_dict|Expected more than 1 "
                r"value per channel|image file is truncated"),
     "an error message of PyTorch or Pillow, quoted as the library raised it (the cell is about that error)"),
    (re.compile(r"^\s*(Total params|Trainable params|Non-trainable params|Input size \(MB\)|Forward/backward pass size"
                r"|Params size \(MB\)|Estimated Total Size|Total mult-adds)"),
     "torchinfo's own summary table, printed by the library (compared with the course's counts)"),
    (re.compile(r"not quiet|quiet: nothing else ran|per-run seconds are upper bounds"),
     "a results file's record of the machine's load, quoted as it was written when the experiment ran"),
    (re.compile(r"momentum \S+ vs \S+; weight_decay \S+ vs \S+; schedule \w+ vs \w+"),
     "TrainConfig's field names and values (momentum, weight_decay, schedule: constant / cosine), as the "
     "TrainConfig printed in notebook 07's cell 3 spells them"),
]

# Tokens that are code, not English: identifiers, calls and reprs, paths, commands, option values.
_CODE = [re.compile(p) for p in (
    r"`[^`]*`", r"'[^']*'", r"\"[^\"]*\"",                       # quoted code and values
    r"\b\w+\([^()]*(\([^()]*\)[^()]*)*\)",                        # calls and reprs: Linear(in_features=…)
    r"\{[^{}]*\}", r"\[[^\[\]]*\]",                               # dicts and lists
    r"python -m \S+( \S+)*", r"[\w-]+@[\w.-]+|(?<![A-Za-z-])(mnist-full|resnet50-imagenet)(?![A-Za-z])",  # assets
    r"(?<![A-Za-z])top-\d", r"[^\s\u3400-\u9fff\uff00-\uffef]*[/_=.][^\s\u3400-\u9fff\uff00-\uffef]*",   # paths, a_b, a=b, x.y
    r"[A-Za-z]*\d[A-Za-z\d]*",                                     # resnet18, 1e-5, layer1
    r"(?<![A-Za-z])(plain|residual|preact|original|residual-B|ResNet|[A-Z][a-z]*[A-Z][A-Za-z]*|[A-Z]{2,}[a-z]?|fc|stem"
    r"|logits?|max|conv\S*|einsum|thop|torchinfo|torchvision|PyTorch|Keras|FlopCounter|tv|momentum|bias|cpu|cuda"
    r"|MACs?|GMACs|lr|vs|npm|True|False|None|Sequential|Identity|NoneType|Linear|BatchNorm|min|s)(?![A-Za-z])",
)]


def _imagenet_words() -> set[str]:
    from course_lib.pretrained import CATEGORIES
    return {w.lower() for c in CATEGORIES for w in WORD.findall(c)}


def english_words(line: str) -> list[str]:
    """The English words of a printed line once code, names and numbers are taken out."""
    for pattern in _CODE:
        line = pattern.sub(" ", line)
    return WORD.findall(line)


def _text_outputs(cell: dict) -> list[str]:
    texts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream" and out.get("name") == "stdout":
            texts.append("".join(out["text"]))
        elif out["output_type"] in ("execute_result", "display_data"):
            data = out.get("data", {})
            if not any(k.startswith("image/") or "widget" in k or k == "text/html" for k in data):
                texts.append("".join(data.get("text/plain", "")))
    return texts


def printed_english(nb: dict, imagenet: set[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """(English lines, [(line, reason)] excepted) of the notebook's printed output. A line counts when it
    has two English words and no Chinese, or a run of three English words beside Chinese (half English);
    an ImageNet category name is the weights' label, not prose."""
    found, excepted = [], []
    for i, cell in enumerate(nb["cells"]):
        for text in _text_outputs(cell):
            for line in text.replace("\r", "\n").splitlines():
                words = [w for w in english_words(line) if w.lower() not in imagenet]
                half = len(words) >= 2
                if not (len(words) >= 2 and not CJK.search(line) or CJK.search(line) and half):
                    continue
                reason = next((why for pattern, why in EXCEPTIONS if pattern.search(line)), None)
                (excepted.append((f"cell {i}: {line.strip()}", reason)) if reason else found.append(f"cell {i}: {line.strip()}"))
    return found, excepted


def english_comments(nb: dict) -> list[str]:
    from course_lib.tools import translate
    return [f"cell {i}: {t}" for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
            for *_p, t in translate._comment_tokens("".join(c["source"]))
            if translate.comment_message(t) is not None and not CJK.search(t)]


def figures_without_chinese(nb: dict) -> list[str]:
    """Figures whose alt text (saved with each figure: its titles, axes and legends) has no Chinese."""
    found = []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if "image/png" in out.get("data", {}):
                alt = out.get("metadata", {}).get("image/png", {}).get("alt", "")
                if not CJK.search(alt):
                    found.append(f"cell {i}: {alt[:80] or '(no alt text)'}")
    return found


def counts(paths: list[Path]) -> dict[str, dict]:
    imagenet = _imagenet_words()
    result = {}
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        lines, excepted = printed_english(nb, imagenet)
        result[path.name] = {"printed": lines, "excepted": excepted, "comments": english_comments(nb),
                             "figures": figures_without_chinese(nb)}
    return result


def test_a_chinese_learner_sees_no_english_but_the_named_exceptions():
    result = counts(sorted((ROOT / "notebooks" / "zh").glob("*.ipynb")))
    problems = [f"zh/{name} {kind}: {item}" for name, r in result.items()
                for kind in ("printed", "comments", "figures") for item in r[kind]]
    assert not problems, f"{len(problems)} English texts in notebooks/zh:\n  " + "\n  ".join(problems[:60])


def test_the_counter_counts_english_and_passes_code_and_chinese():
    imagenet = {"military", "uniform"}
    nb = {"cells": [{"cell_type": "code", "source": [], "outputs": [{"output_type": "stream", "name": "stdout", "text": [
        "test accuracy of the run 0.98\n",                       # English: counted
        "测试准确率，residual − plain：the mean paired difference\n",  # half English: counted
        "测试准确率：0.98（plain-20，`use_residual=True`）\n",        # Chinese with code: not counted
        "TrainConfig(lr=0.01, batch_size=64) python -m course_lib.experiments degradation --seeds 3\n",
        "military uniform      65.9%\n",                          # an ImageNet label
        "Error(s) in loading state_dict for ResNet:\n"]}]}]}       # a named exception
    lines, excepted = printed_english(nb, imagenet)
    assert lines == ["cell 0: test accuracy of the run 0.98", "cell 0: 测试准确率，residual − plain：the mean paired difference"]
    assert [line for line, _why in excepted] == ["cell 0: Error(s) in loading state_dict for ResNet:"]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    paths = [Path(p) for p in sys.argv[1:]] or sorted((ROOT / "notebooks" / "zh").glob("*.ipynb"))
    totals = {"printed": 0, "excepted": 0, "comments": 0, "figures": 0}
    for name, r in counts(paths).items():
        print(name, {k: len(v) for k, v in r.items()})
        for kind in ("printed", "comments", "figures"):
            for item in r[kind]:
                print(f"   {kind}: {item[:160]}")
        for k in totals:
            totals[k] += len(r[k])
    print("total", totals)
