"""Quotations of the seed posts are verbatim: each matches a passage kept in data/seed_quotes.json.

A quotation is a span in “…” or "…" inside a markdown sentence that names a seed (its file name,
`000_59ebdc363c1a6bab.txt`, or "seed 000"). An ellipsis inside a quotation marks a cut: each piece
must appear in one kept passage of that seed. When the seed posts are beside the repository
(`../shared/seeds/`, as on the course machines and in CI), each kept passage is checked against its
seed file too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ZH_NOTEBOOKS = sorted((ROOT / "notebooks" / "zh").glob("*.ipynb"))   # the Chinese edition quotes the same originals
KEPT = json.loads((ROOT / "data" / "seed_quotes.json").read_text(encoding="utf-8"))["passages"]
SEEDS_DIR = ROOT.parent / "shared" / "seeds"
NAMES_SEED = re.compile(r"\b(00[0-4])_[0-9a-f]{16}\.txt\b|\bseed\s+(00[0-4])\b|种子文章\s*(00[0-4])", re.IGNORECASE)


def squash(text: str) -> str:
    return " ".join(text.split())


def quotations(sentence: str) -> list[str]:
    """The quoted spans of a sentence: curly quotes first (they may hold straight ones), then straight."""
    curly = re.findall(r"“([^”]+)”", sentence)
    rest = re.sub(r"“[^”]+”", " ", sentence)
    return curly + re.findall(r'"([^"\n]+)"', rest)


def seed_quotations(markdown: str) -> list[tuple[str, str]]:
    """(seed number, quotation) for every quotation in a sentence that names exactly one seed."""
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z*(\[])|(?<=[。！？])|\n\s*\n|\n(?=\s*[-*|#]|\s*\d+\.)", markdown):
        seeds = {next(g for g in groups if g) for groups in NAMES_SEED.findall(sentence)}
        if len(seeds) == 1:
            seed = seeds.pop()
            found += [(seed, q) for q in quotations(sentence)]
    return found


def mismatches(seed: str, quote: str, kept: list[dict]) -> list[str]:
    passages = [squash(k["passage"]) for k in kept if k["seed"].startswith(seed)]
    pieces = [p.strip() for p in re.split(r"…|\.\.\.", quote) if p.strip(" ,")]
    return [p for p in pieces if not any(squash(p) in passage for passage in passages)]


@pytest.mark.parametrize("path", NOTEBOOKS + ZH_NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS] + [f"zh/{p.stem}" for p in ZH_NOTEBOOKS])
def test_every_seed_quotation_matches_a_kept_passage(path):
    bad = []
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "markdown":
            for seed, quote in seed_quotations("".join(cell["source"])):
                bad += [f"cell {i}, seed {seed}: {piece!r}" for piece in mismatches(seed, quote, KEPT)]
    assert not bad, "quotations not found in data/seed_quotes.json (quote the seed verbatim):\n  " + "\n  ".join(bad)


def test_the_notebooks_quote_the_seeds():
    """The checker is not vacuous: the notebooks hold quotations of seeds 000 and 004."""
    seeds = {seed for p in NOTEBOOKS for c in json.loads(p.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "markdown" for seed, _ in seed_quotations("".join(c["source"]))}
    assert {"000", "004"} <= seeds


def test_the_chinese_edition_quotes_the_seeds_too():
    seeds = {seed for p in ZH_NOTEBOOKS for c in json.loads(p.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "markdown" for seed, _ in seed_quotations("".join(c["source"]))}
    assert {"000", "004"} <= seeds


def test_the_checker_catches_a_misquotation():
    kept = [{"seed": "004_60814e1a8b813ff2.txt", "passage": "然后,ResNet 使用了 BN (Batch Normalization)代替了Dropout 方法。"}]
    good = 'Seed `004_60814e1a8b813ff2.txt` says "ResNet 使用了 BN (Batch Normalization)代替了Dropout 方法" (a claim).'
    bad = 'Seed 004 says "ResNet 使用 BN 代替了 Dropout" (a claim).'
    assert [mismatches(s, q, kept) for s, q in seed_quotations(good)] == [[]]
    assert [mismatches(s, q, kept) for s, q in seed_quotations(bad)] == [["ResNet 使用 BN 代替了 Dropout"]]
    cut = 'Seed 004 wrote “然后,ResNet … 代替了Dropout 方法”.'
    assert [mismatches(s, q, kept) for s, q in seed_quotations(cut)] == [[]]


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the seed posts are not beside the repository (../shared/seeds)")
def test_every_kept_passage_is_verbatim_in_its_seed():
    for k in KEPT:
        text = (SEEDS_DIR / k["seed"]).read_text(encoding="utf-8")
        assert k["passage"] in text, f"{k['seed']}: not verbatim: {k['passage'][:60]!r}"
