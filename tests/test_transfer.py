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


def test_photo_transfer_fast(net, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "FEATURE_DIR", tmp_path)
    p = transfer.PRESETS["fast"]
    r = transfer.photo_transfer(net, p, progress=False)
    assert len(r["rows"]) == len(p.shots) * len(p.seeds) * len(transfer.METHODS)
    assert len(r["search"]) == len(p.shots) * sum(len(v) for v in p.lrs.values())
    for key, lr in r["chosen_lr"].items():
        assert lr in p.lrs[key.split("|")[1]]
    assert all(0 <= row["acc"] <= 1 for row in r["rows"])
    assert len(transfer.comparisons(r)) == len(p.shots) * 3
    params = {row["method"]: row["trainable_params"] for row in r["rows"]}
    assert params[transfer.METHODS[0]] == 2048 * 2 + 2
    assert len(list(tmp_path.glob("*.pt"))) == 1                  # features cached once
    again = transfer.photo_transfer(net, p, progress=False)      # from the cache: the same numbers
    assert [row["acc"] for row in again["rows"]] == [row["acc"] for row in r["rows"]]


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
def test_the_default_run_trains_seed_0_and_places_it_among_the_committed_seeds():
    from course_lib.pretrained import imagenet_resnet50
    net = imagenet_resnet50()
    committed = json.loads(json.dumps(transfer.photo_transfer(net, progress=False)))     # as loaded from JSON
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
