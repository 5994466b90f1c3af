"""The Chinese edition: built from the English notebooks and the catalogs, complete, current,
on-glossary, with the numbers of its English source; and the learner's language chosen right."""

import json
import os
import re
import shutil
from pathlib import Path

import polib
import pytest

from course_lib import i18n
from course_lib.tools import translate

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")


# ------------------------------------------------------------------ the committed edition
def test_the_chinese_edition_is_complete_and_current():
    problems = translate.check()
    assert not problems, "python -m course_lib.tools.translate check:\n  " + "\n  ".join(problems[:40])


def test_every_english_notebook_has_its_chinese_twin_with_the_same_code():
    for en in translate.english_notebooks():
        zh = translate.OUT / en.name
        assert zh.exists(), f"notebooks/zh/{en.name} is missing"
        a, b = (json.loads(p.read_text(encoding="utf-8"))["cells"] for p in (en, zh))
        entries = translate._catalog_entries(en)
        assert [c["cell_type"] for c in a] == [c["cell_type"] for c in b]
        for i, (x, y) in enumerate(zip(a, b)):
            if x["cell_type"] == "code":
                en_src, zh_src = "".join(x["source"]), "".join(y["source"])
                assert translate.skeleton(en_src) == translate.skeleton(zh_src), \
                    f"{en.name} cell {i}: the code differs (comments and printed strings aside)"
                for en_lit, zh_lit in zip(translate.text_literals(en_src), translate.text_literals(zh_src)):
                    entry = entries.get((translate.STRING, en_lit))
                    assert zh_lit == en_lit or (entry is not None and zh_lit == entry.msgstr), \
                        f"zh/{en.name} cell {i}: {zh_lit[:60]!r} is neither the English {en_lit[:60]!r} nor its translation"
                    assert zh_lit == en_lit or not translate.string_problem(en_lit, zh_lit)
                assert x.get("metadata", {}).get("tags") == y.get("metadata", {}).get("tags")
                english = [t for *_p, t in translate._comment_tokens(zh_src)
                           if translate.comment_message(t) is not None and not CJK.search(t)]
                assert not english, f"zh/{en.name} cell {i}: comments still in English: {english}"
            elif len(re.findall(r"[A-Za-z]{3,}", "".join(x["source"]))) >= 4:     # prose, not a bare heading
                assert CJK.search("".join(y["source"])), f"zh/{en.name} cell {i} has no Chinese"


def test_the_glossary_is_well_formed():
    terms = translate.glossary()
    assert len(terms) >= 30
    chinese = [t.chinese for t in terms]
    assert len(set(chinese)) == len(chinese)
    for t in terms:
        assert t.english and CJK.search(t.chinese)
        assert t.chinese not in t.synonyms


# ------------------------------------------------------------------ the checks can fail
TERMS = [translate.Term("residual block", "残差块", ["残差单元"], ""),
         translate.Term("batch normalization", "批量规范化", ["批量归一化"], "")]


def test_a_non_canonical_synonym_is_named():
    problems = translate.term_problems("x.ipynb", [(3, "残差块（residual block）由残差单元组成。")], TERMS)
    assert problems == ["x.ipynb cell 3: '残差单元' is not the glossary's term; write '残差块' (residual block)"]


def test_a_first_use_without_its_english_is_named_and_later_uses_need_none():
    assert translate.term_problems("x.ipynb", [(1, "残差块很简单。"), (2, "残差块（residual block）")], TERMS) == [
        "x.ipynb cell 1: first use of '残差块' lacks its English: write '残差块（residual block）'"]
    assert translate.term_problems("x.ipynb", [(1, "残差块 (residual block) 很简单。"), (2, "残差块。")], TERMS) == []


def test_a_seed_quotation_may_use_the_seeds_own_words():
    quote = "然后,ResNet 使用了批量归一化。"
    text = f"残差块（residual block）。种子文章写道：“{quote}”"
    assert translate.term_problems("x.ipynb", [(1, text)], TERMS) != []
    assert [p for p in translate.term_problems("x.ipynb", [(1, text)], TERMS) if "批量归一化" in p]
    clean = translate.prose_only(text, [quote])
    assert "批量归一化" not in clean


def test_a_number_missing_from_the_english_is_named():
    en = "Training **8,000** digits for 3 epochs gives 0.986."
    assert translate.number_problems("x.ipynb", [(4, en, "用 8,000 个数字训练 3 轮，得到 0.986。")]) == []
    assert translate.number_problems("x.ipynb", [(4, en, "用 8,000 个数字训练 4 轮。")]) == [
        "x.ipynb cell 4: the number 4 is not in the English cell"]


@pytest.fixture
def tiny_course(tmp_path, monkeypatch):
    """A copy of notebook 02 and its catalog in a scratch tree, with the translate module pointed at it."""
    nb_dir, cat_dir = tmp_path / "notebooks", tmp_path / "locale" / "notebooks"
    (nb_dir / "zh").mkdir(parents=True)
    cat_dir.mkdir(parents=True)
    name = "02_the_residual_block"
    shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", nb_dir)
    shutil.copy(translate.CATALOGS / f"{name}.po", cat_dir)
    monkeypatch.setattr(translate, "NOTEBOOKS", nb_dir)
    monkeypatch.setattr(translate, "OUT", nb_dir / "zh")
    monkeypatch.setattr(translate, "CATALOGS", cat_dir)
    monkeypatch.setattr(translate, "ROOT", tmp_path)
    monkeypatch.setattr(translate, "README_ZH", tmp_path / "README.zh.md")
    return nb_dir / f"{name}.ipynb", cat_dir / f"{name}.po"


def _problems_of(notebook: Path) -> list[str]:
    return [p for p in translate.check() if p.startswith(notebook.name) or f"/{notebook.name}" in p]


def test_an_english_change_makes_its_translation_stale_and_names_the_cell(tiny_course):
    notebook, catalog = tiny_course
    translate.build()
    assert _problems_of(notebook) == []
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    i = next(k for k, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown" and k > 0)
    nb["cells"][i]["source"][0] = nb["cells"][i]["source"][0].replace("the", "a", 1) + " (changed)"
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert (f"{notebook.name} cell {i}: the English changed since it was translated, not in the catalog yet (run "
            "python -m course_lib.tools.translate extract, then translate it)") in _problems_of(notebook)
    translate.update_catalog(catalog, translate.notebook_messages(notebook))
    stale = _problems_of(notebook)
    assert f"{notebook.name} cell {i}: stale, the English changed since it was translated" in stale
    entry = next(e for e in polib.pofile(str(catalog)) if "fuzzy" in e.flags)
    assert entry.previous_msgid and entry.msgstr        # the old English and translation, for the translator
    result = translate.build()
    built = json.loads((translate.OUT / notebook.name).read_text(encoding="utf-8"))
    text = "".join(built["cells"][i]["source"])
    assert "(changed)" not in text and translate.STALE_MARK in text and entry.msgstr in text   # old Chinese, marked
    assert result[notebook.name]["untranslated"] == [f"cell {i}: stale (the English changed since it was translated)"]


def test_the_build_command_fails_naming_each_cell_it_could_not_translate(tiny_course, capsys):
    notebook, catalog = tiny_course
    assert translate.main(["build"]) == 0
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    i = next(k for k, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown" and k > 0)
    nb["cells"][i]["source"] = ["A brand-new paragraph nobody has translated.\n"]
    j = next(k for k, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    nb["cells"][j]["source"] = ["x = 1  # a fresh comment\n"] + nb["cells"][j]["source"]
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert translate.main(["build"]) == 1
    err = capsys.readouterr().err
    assert f"{notebook.name} cell {i}: not translated" in err
    assert f"{notebook.name} cell {j}: comment not translated 'a fresh comment'" in err
    assert f"{notebook.name} cell {j} (comment 'a fresh comment'): new English, not in the catalog yet" in "\n".join(
        _problems_of(notebook))


def test_comments_are_translated_and_a_comment_change_keeps_the_outputs(tiny_course):
    notebook, catalog = tiny_course
    translate.build()
    zh_path = translate.OUT / notebook.name
    zh = json.loads(zh_path.read_text(encoding="utf-8"))
    j = next(k for k, c in enumerate(zh["cells"]) if c["cell_type"] == "code" and "# " in "".join(c["source"]))
    zh["cells"][j]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["kept\n"]}]
    zh_path.write_text(json.dumps(zh, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    po = polib.pofile(str(catalog), wrapwidth=0)
    entry = next(e for e in po if e.msgctxt == translate.COMMENT and e.occurrences[0][1] == str(j))
    entry.msgstr = "换了一种说法"
    po.save()
    translate.build()
    cell = json.loads(zh_path.read_text(encoding="utf-8"))["cells"][j]
    assert "# 换了一种说法" in "".join(cell["source"])
    assert cell["outputs"][0]["text"] == ["kept\n"]


def test_code_comments_split_from_code():
    src = 'x = "# not a comment"  # the layers\ny = 2  # (1, 3, 224, 224)\nz = 3  # noqa: E731\n'
    assert [translate.comment_message(t) for *_p, t in translate._comment_tokens(src)] == ["the layers", None, None]
    assert translate.without_comments(src) == 'x = "# not a comment"\ny = 2\nz = 3\n'
    assert translate.with_comments(src, lambda m: "层") == 'x = "# not a comment"  # 层\ny = 2  # (1, 3, 224, 224)\nz = 3  # noqa: E731\n'
    assert translate._comment_tokens("def f(:\n  # broken") == []


def test_a_missing_translation_and_an_unbuilt_notebook_are_named(tiny_course):
    notebook, catalog = tiny_course
    assert f"notebooks/zh/{notebook.name}: missing (run python -m course_lib.tools.translate build)" in _problems_of(notebook)
    po = polib.pofile(str(catalog), wrapwidth=0)
    po[2].msgstr = ""
    po.save()
    translate.build()
    assert [p for p in _problems_of(notebook) if p.endswith("not translated")]


def test_the_build_keeps_code_and_outputs_and_points_links_one_folder_deeper(tiny_course):
    notebook, _catalog = tiny_course
    translate.build()
    zh = json.loads((translate.OUT / notebook.name).read_text(encoding="utf-8"))
    en = json.loads(notebook.read_text(encoding="utf-8"))
    assert [translate.skeleton("".join(c["source"])) for c in zh["cells"] if c["cell_type"] == "code"] == \
           [translate.skeleton("".join(c["source"])) for c in en["cells"] if c["cell_type"] == "code"]
    text = "".join("".join(c["source"]) for c in zh["cells"] if c["cell_type"] == "markdown")
    assert "](../data" not in text and "](../README.md" not in text
    assert translate._fix_links("[a](../README.md) [b](../data/x.json) [c](03_x.ipynb#A-b)", {"03_x": {"A-b": "甲-乙"}}, "02") == \
        "[a](../../README.zh.md) [b](../../data/x.json) [c](03_x.ipynb#甲-乙)"


# ------------------------------------------------------------------ the learner's language
def test_the_language_comes_from_the_notebooks_folder_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_LANG", raising=False)
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert i18n.language() == "en"
    monkeypatch.chdir(tmp_path / "notebooks" / "zh")
    assert i18n.language() == "zh"
    monkeypatch.setenv("COURSE_LANG", "en")
    assert i18n.language() == "en"
    monkeypatch.setenv("COURSE_LANG", "zh_CN")
    assert i18n.language() == "zh"
    monkeypatch.setenv("COURSE_LANG", "klingon")
    assert i18n.language() == "en"


def test_messages_fall_back_to_english_when_a_translation_is_missing_or_fuzzy(tmp_path, monkeypatch):
    po = polib.POFile()
    po.append(polib.POEntry(msgid="current", msgstr="当前"))
    po.append(polib.POEntry(msgid="stale", msgstr="过时", flags=["fuzzy"]))
    po.append(polib.POEntry(msgid="empty", msgstr=""))
    path = tmp_path / "zh_CN" / "LC_MESSAGES" / "course_lib.po"
    path.parent.mkdir(parents=True)
    po.save(str(path))
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    with i18n.using("zh"):
        assert [i18n._(m) for m in ("current", "stale", "empty", "unknown")] == ["当前", "stale", "empty", "unknown"]
    with i18n.using("en"):
        assert i18n._("current") == "current"


def test_check_messages_are_chinese_in_the_chinese_edition(capsys):
    from course_lib.checks import check_output_size

    with i18n.using("zh"):
        with pytest.raises(AssertionError) as err:
            check_output_size(lambda n, k, p, s: (n - k + 2 * p) / s + 1)
        message = str(err.value)
        check_output_size(lambda n, k, p, s: (n - k + 2 * p) // s + 1)
    assert CJK.search(message) and "fractions" not in message
    assert CJK.search(capsys.readouterr().out)             # "练习 03.1 通过"
    with i18n.using("en"):
        with pytest.raises(AssertionError) as err:
            check_output_size(lambda n, k, p, s: (n - k + 2 * p) / s + 1)
    assert "fractions" in str(err.value)


def test_every_runtime_translation_formats_with_the_english_placeholders():
    """A translation whose placeholders differ would raise KeyError in front of a learner."""
    bad = []
    for entry in polib.pofile(str(i18n.catalog_path("zh"))):
        if not translate.translation_of(entry):
            continue
        names = {m.split(":")[0].split("!")[0] for m in re.findall(r"\{([^{}]*)\}", entry.msgid)}
        if not names:
            continue
        values = {n: 1.5 if n else 1.5 for n in names}
        try:
            entry.msgid.format(**values)
        except (ValueError, KeyError, IndexError, TypeError):
            continue                       # formatted with non-numbers only; the placeholder test covers it
        try:
            entry.msgstr.format(**values)
        except (ValueError, KeyError, IndexError, TypeError) as err:
            bad.append(f"{entry.msgid[:60]!r}: {err!r}")
    assert not bad, "\n".join(bad)


def test_the_english_may_follow_the_phrase_the_term_starts():
    terms = [translate.Term("degradation", "退化", [], "")]
    assert translate.term_problems("x.ipynb", [(1, "退化问题（degradation problem）")], terms) == []
    assert translate.term_problems("x.ipynb", [(1, "退化的网络训练得很差，很难（degradation）")], terms) != []


def test_a_title_may_name_a_term_without_its_english_but_the_body_may_not():
    assert translate.term_problems("x.ipynb", [(0, "# 02 · 残差块\n\n残差块（residual block）是……")], TERMS) == []
    assert translate.term_problems("x.ipynb", [(0, "# 02 · 残差块\n\n残差块是……")], TERMS) != []


def test_a_link_naming_another_notebook_by_its_title_is_not_a_first_use():
    text = "**下一节**：[02 · 残差块](02_the_residual_block.ipynb)。残差块（residual block）……"
    assert translate.term_problems("x.ipynb", [(9, text)], TERMS) == []


def test_the_chinese_course_map_and_headers_give_the_chinese_runs_times():
    from course_lib.tools import runtimes

    start = json.loads((translate.OUT / "00_start_here.ipynb").read_text(encoding="utf-8"))
    course_map = next("".join(c["source"]) for c in start["cells"] if "\n| # |" in "".join(c["source"]))
    with i18n.using("zh"):
        assert f"| {i18n._('full run')} |" in course_map
    for nb in translate.english_notebooks():
        zh = json.loads((translate.OUT / nb.name).read_text(encoding="utf-8"))
        seconds = runtimes.notebook_seconds(zh)
        assert seconds, f"zh/{nb.name} has no saved timings: execute it in full mode"
        with i18n.using("zh"):
            header = runtimes.header_line(zh)
        assert CJK.search(header) and header in "".join(zh["cells"][0]["source"])
        if nb.stem[:2].isdigit():
            assert f"| {runtimes.duration(seconds)} |" in course_map.split(f"| {nb.stem[:2]} |")[1].split("\n")[0]


def test_prose_names_each_control_by_the_label_the_learner_sees():
    """Issue 26.4: zh 08 told the learner to drag **depth** and press **train now**, while the
    widget shows 深度 and 立即训练. A control named in bold must carry its Chinese label."""
    import ast

    source = (ROOT / "course_lib" / "widgets.py").read_text(encoding="utf-8")
    labels = {node.value.args[0].value for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.keyword) and node.arg == "description" and isinstance(node.value, ast.Call)
              and getattr(node.value.func, "id", "") == "_" and isinstance(node.value.args[0], ast.Constant)}
    zh = i18n.translations("zh")
    wrong = []
    for en in translate.english_notebooks():
        for cell in json.loads((translate.OUT / en.name).read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            text = "".join(cell["source"])
            for label in labels:
                if f"**{label}**" in text and zh.get(label, label) != label:
                    wrong.append(f"{en.name}: **{label}** (the widget shows {zh[label]})")
    assert labels >= {"depth", "residual", "train now"} and wrong == []


def test_the_glossary_is_in_zh_00_and_readme_zh_with_every_term():
    """Issue 26.5: a glossary a learner can use, generated from glossary.csv (check keeps it current)."""
    table = translate.glossary_table()
    start = json.loads((translate.OUT / "00_start_here.ipynb").read_text(encoding="utf-8"))
    text = "".join("".join(c["source"]) for c in start["cells"] if c["cell_type"] == "markdown")
    readme = translate.README_ZH.read_text(encoding="utf-8")
    for where in (text, readme):
        assert "## 术语表" in where and table in where
    for term in translate.glossary():
        assert f"| {term.chinese} |" in table
    for english in ("twin", "epoch", "receptive field", "global average pooling", "stride", "pooling"):
        assert any(t.english == english for t in translate.glossary()), english


# ------------------------------------------------------------------ printed and drawn strings
def test_printed_and_drawn_strings_are_chosen_but_code_values_are_not():
    src = ('RUN = "one seed"  # a setting\n'
           'if RUN == "one seed":\n'
           '    print(f"test accuracy {acc:.3f}", "of the run")\n'
           'ax.set_title("training loss"); ax.plot(x, label="plain arm")\n'
           'table = format_table(rows, ["seed", "test acc"])\n'
           'label = "final training error"\n'
           'value = results["final training error"]\n'
           'run(method="frozen + linear head")\n'
           '%time print("in a magic line")\n'
           'print("head " + ("goes up" if up else "goes down") + f" by {x:.2f} points")\n'
           'print(f"{len(beyond)} {\'interval excludes\' if n == 1 else \'intervals exclude\'} zero")\n')
    found = [src[a:b] for a, b in translate._string_spans(src)]
    assert found == ['f"test accuracy {acc:.3f}"', '"of the run"', '"training loss"', '"plain arm"', '"seed"',
                     '"test acc"', '"final training error"', '"head "', '"goes up"', '"goes down"', 'f" by {x:.2f} points"',
                     'f"{len(beyond)} {\'interval excludes\' if n == 1 else \'intervals exclude\'} zero"']


def test_a_translated_string_must_keep_every_field():
    ok = translate.string_problem
    assert ok('f"acc {a:.3f} of {n} {\'seed\' if n == 1 else \'seeds\'}"', 'f"{n}个{\'\' if n == 1 else \'\'}随机种子的准确率{a:.3f}"') is None
    assert ok('f"{x or \'none\'}"', 'f"{x or \'无\'}"') is None
    assert ok("f\"{', '.join(f'{m} at {s:d}' for s, m in e)}\"", "f\"{', '.join(f'{m}（每类{s:d}张）' for s, m in e)}\"") is None
    assert "fields" in ok("f\"{', '.join(f'{m} at {s:d}' for s, m in e)}\"", "f\"{', '.join(f'{m}（{s:x}）' for s, m in e)}\"")
    assert "fields" in ok('f"acc {a:.3f}"', 'f"准确率{a:.2f}"')            # a changed format
    assert "fields" in ok('f"acc {a:.3f}"', 'f"准确率{b:.3f}"')            # another expression
    assert "fields" in ok('f"{results[\'seeds\']}"', 'f"{results[\'种子\']}"')   # a key is code
    assert "kind" in ok('"acc"', 'f"准确率"')
    assert "not a Python string" in ok('"acc"', '"准确率')


def test_the_build_translates_strings_and_refuses_a_broken_one(tiny_course):
    notebook, catalog = tiny_course
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "printed", "metadata": {}, "outputs": [],
                        "source": ['n = 3\n', 'print(f"{n} layers in all")\n']})
    notebook.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    translate.update_catalog(catalog, translate.notebook_messages(notebook))
    po = polib.pofile(str(catalog), wrapwidth=0)
    entry = next(e for e in po if e.msgctxt == translate.STRING and e.msgid == 'f"{n} layers in all"')
    entry.msgstr = 'f"共{n}层"'
    po.save()
    translate.build()
    zh = json.loads((translate.OUT / notebook.name).read_text(encoding="utf-8"))
    assert "".join(zh["cells"][-1]["source"]) == 'n = 3\nprint(f"共{n}层")\n'
    entry.msgstr = 'f"共{m}层"'                          # a field renamed: refused, the English ships, named
    po.save()
    result = translate.build()
    assert any("the translation's {fields} differ" in line for line in result[notebook.name]["untranslated"])
    assert any("the translation's {fields} differ" in p for p in translate.check())
