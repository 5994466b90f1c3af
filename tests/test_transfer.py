"""course_lib.transfer: the photo transfer experiment, in its fast preset."""

import json

import pytest
import torch

from course_lib import assets, transfer
from course_lib.data import load_cats_dogs
from course_lib.pretrained import imagenet_resnet50


@pytest.fixture(scope="module")
def net():
    assets.fetch("resnet50-imagenet", log=lambda line: None)
    return imagenet_resnet50()


def test_few_shot_is_balanced_and_seeded():
    y = torch.tensor([0, 1] * 50)
    a, b = transfer.few_shot(y, 7, seed=3), transfer.few_shot(y, 7, seed=3)
    assert torch.equal(a, b) and len(a.unique()) == 14
    assert (y[a] == 0).sum() == 7 and (y[a] == 1).sum() == 7
    assert not torch.equal(a, transfer.few_shot(y, 7, seed=4))
    with pytest.raises(ValueError, match="pool holds 50"):
        transfer.few_shot(y, 51, seed=0)


def test_last_stage_keeps_bn_statistics(net):
    model = transfer.LastStage(net.model.layer4, 2048, 2)
    bn = model.layer4[0].bn1
    before = bn.running_mean.clone()
    transfer.fit(model, torch.randn(4, 1024, 4, 4).half(), torch.tensor([0, 1, 0, 1]), lr=0.01,
                 steps=2, batch_size=4, seed=0)
    assert torch.equal(bn.running_mean, before)
    assert not torch.equal(model.layer4[0].conv1.weight, net.model.layer4[0].conv1.weight)  # it trained
    assert torch.equal(net.model.layer4[0].bn1.running_mean, before)                       # a copy


@pytest.fixture(scope="module")
def fast_transfer(net, tmp_path_factory):
    """One fast-mode photo_transfer for the tests below, its features cached in a folder of its own."""
    feature_dir = tmp_path_factory.mktemp("features")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transfer, "FEATURE_DIR", feature_dir)
        result = transfer.photo_transfer(net, transfer.PRESETS["fast"], progress=False)
    return result, feature_dir


def test_photo_transfer_fast(fast_transfer):
    r, tmp_path = fast_transfer
    p = transfer.PRESETS["fast"]
    assert len(r["rows"]) == len(p.shots) * len(p.seeds) * len(transfer.METHODS)
    assert len(r["search"]) == len(p.shots) * sum(len(v) for v in p.lrs.values())
    for key, lr in r["chosen_lr"].items():
        assert lr in p.lrs[key.split("|")[1]]
    assert all(0 <= row["acc"] <= 1 for row in r["rows"])
    assert len(transfer.comparisons(r)) == len(p.shots) * 3
    params = {row["method"]: row["trainable_params"] for row in r["rows"]}
    assert params[transfer.METHODS[0]] == 2048 * 2 + 2
    assert len(list(tmp_path.glob("*.pt"))) == 1                  # features cached once
    # that the cached features give the same numbers: the default-run test below re-trains seed 0 from
    # this cache and requires exactly the accuracies of this run


def test_resnet34_from_scratch_runs():
    data = load_cats_dogs(20, 10, 10)
    r = transfer.resnet34_from_scratch(data, steps=1, batch_size=8, progress=False)
    assert 0 <= r["acc"] <= 1 and r["params"] > 21_000_000 and r["epochs"] == 8 / 20


def test_unknown_method(net):
    data = load_cats_dogs(20, 10, 10)
    with pytest.raises(ValueError, match="optimizer must be"):
        transfer.fit(torch.nn.Linear(2, 2), torch.randn(4, 2), torch.tensor([0, 1, 0, 1]), 0.1, 1, 4, 0,
                     optimizer="lion")
    with pytest.raises(ValueError, match="method must be one of"):
        transfer.run_method("magic", net, {}, data, torch.arange(4), 0.1, 0, transfer.PRESETS["fast"])


# ----------------------------------------------------------------------------- issue 29: notebook 09's default run
def test_the_default_run_trains_seed_0_and_places_it_among_the_committed_seeds(net, fast_transfer, monkeypatch):
    result, feature_dir = fast_transfer
    monkeypatch.setattr(transfer, "FEATURE_DIR", feature_dir)                           # its features, cached
    committed = json.loads(json.dumps(result))                                          # as loaded from JSON
    with pytest.raises(ValueError, match="RUN must be one of"):
        transfer.default_run(net, "one", committed)
    assert transfer.default_run(net, "none", committed)["trained"] == []
    mine = transfer.default_run(net, "one seed", committed, progress=False)
    assert mine["trained"] == [0] and not mine["search"] == [] and mine["chosen_lr"] == committed["chosen_lr"]
    assert len(mine["rows"]) == len(committed["rows"])
    lines = transfer.placement(mine)
    assert len(lines) == len(transfer.preset().shots) * len(transfer.METHODS)
    assert all("the same as the committed seed 0" in line for line in lines), lines      # deterministic on a CPU
    other = {**committed, "preset": {**committed["preset"], "steps": 1}}                  # made with other settings
    assert transfer.default_run(net, "one seed", other, progress=False)["trained"] == list(transfer.preset().seeds)
