"""data/results/README.md's table is generated from the files' `meta` blocks and kept current."""

import json
import shutil

import pytest

from course_lib.tools import provenance


def test_every_results_file_has_a_meta_block():
    for path in sorted(provenance.RESULTS_DIR.glob("*.json")):
        meta = json.loads(path.read_text())["meta"]
        assert {"command", "torch", "device", "threads", "machine", "date", "seconds"} <= set(meta), path.name


def test_the_committed_readme_is_current():
    assert provenance.is_current(), "data/results/README.md is out of date: run `python -m course_lib.tools.provenance`"


@pytest.fixture
def copy(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(provenance.RESULTS_DIR, results)
    return results


def test_a_changed_meta_makes_the_readme_stale(copy):
    readme = copy / "README.md"
    assert provenance.is_current(readme, copy)
    path = copy / "preact.json"
    data = json.loads(path.read_text())
    data["meta"]["command"] += " --force"
    path.write_text(json.dumps(data))
    assert not provenance.is_current(readme, copy)
    readme.write_text(provenance.render(readme.read_text(), provenance.table(copy)))
    assert provenance.is_current(readme, copy) and "--out data/results/preact.json --force`" in readme.read_text()


def test_a_file_without_meta_is_refused(copy):
    (copy / "extra.json").write_text(json.dumps({"runs": []}))
    with pytest.raises(ValueError, match="extra.json has no `meta` block"):
        provenance.table(copy)


def test_users_are_found_in_the_notebooks():
    assert provenance.users("degradation")[:2] == ["08", "10"]
    assert provenance.users("plain_vs_residual")[0] == "07"
    assert provenance.users("exercise_spread") == ["`course_lib/checks/spread.py`"]


def test_compare_matches_runs_by_arm_and_seed():
    def run(arm, seed, acc, losses):
        return {"arm": arm, "seed": seed, "test_acc": acc, "history": {"train_loss": losses}}
    old = {"runs": [run("plain", 0, 0.98, [2.0, 1.5]), run("residual", 0, 0.99, [2.0, 1.4])]}
    new = {"runs": [run("residual", 0, 0.984, [2.0, 1.41]), run("plain", 0, 0.98, [2.0, 1.5]), run("plain", 9, 0.5, [1.0])]}
    c = provenance.compare(old, new)
    assert c["runs"] == 2 and abs(c["max_test_acc_diff"] - 0.006) < 1e-12
    assert c["worst"]["arm"] == "residual" and c["first_different_loss_step"] == 1
