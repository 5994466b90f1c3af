"""course_lib.probes: lesions, path lengths, loss-landscape slices."""

import pytest
import torch
import torch.nn.functional as F

from course_lib import probes
from course_lib.models import cifar_resnet


@pytest.fixture
def batch():
    torch.manual_seed(0)
    return torch.randn(32, 1, 16, 16), torch.randint(0, 10, (32,))


def test_removable_blocks_and_lesions_restore(batch):
    model = cifar_resnet(20).eval()
    names = probes.removable_blocks(model)
    assert names == ["layer1.0", "layer1.1", "layer1.2", "layer2.1", "layer2.2", "layer3.1", "layer3.2"]
    block = model.layer2[1]
    with probes.lesioned(model, ["layer2.1"]):
        assert isinstance(model.layer2[1], torch.nn.Identity)
    assert model.layer2[1] is block


def test_a_zero_init_residual_net_does_not_notice_lesions(batch):
    x, y = batch
    model = cifar_resnet(14, zero_init_residual=True).eval()      # every identity block is the identity
    accs = probes.single_lesions(model, x, y)
    assert len(set(accs.values())) == 1
    plain = cifar_resnet(14, use_residual=False).eval()
    with torch.no_grad(), probes.lesioned(plain, ["layer1.1"]):
        assert plain(x).shape == (32, 10)
    with pytest.raises(ValueError, match="k must be between"):
        probes.random_lesions(model, x, y, k=99, draws=1)
    assert len(probes.random_lesions(model, x, y, k=2, draws=3)) == 3


def test_path_counts_and_gradient_by_length(batch):
    x, y = batch
    assert probes.path_length_counts(3) == [1, 3, 3, 1]
    model = cifar_resnet(14).eval()
    grads = probes.gradient_by_path_length(model, x, y, draws=2)
    assert len(grads) == len(probes.blocks(model)) + 1 and all(g > 0 for g in grads)
    assert not model.training and all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="residual net"):
        probes.gradient_by_path_length(cifar_resnet(14, use_residual=False), x, y)


def test_filter_normalized_direction():
    model = cifar_resnet(8)
    direction = probes.filter_normalized_direction(model, seed=0)
    for p, d in zip(model.parameters(), direction):
        if p.dim() <= 1:
            assert not d.any()
        else:
            torch.testing.assert_close(d.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))


def test_loss_surface_restores_the_weights(batch):
    x, y = batch
    model = cifar_resnet(8).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    line = probes.loss_surface(model, x, y, [-0.5, 0.0, 0.5])
    grid = probes.loss_surface(model, x, y, [-0.5, 0.0, 0.5], [-0.5, 0.0, 0.5])
    assert len(line) == 3 and len(line[0]) == 1 and len(grid) == 3 and len(grid[0]) == 3
    with torch.no_grad():
        centre = F.cross_entropy(model.eval()(x), y).item()
    model.train()
    assert line[1][0] == pytest.approx(centre, rel=1e-5) and grid[1][1] == pytest.approx(centre, rel=1e-5)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ----------------------------------------------------------------------------- issue 29: notebook 10's depth-56 cell
def test_the_depth_56_slices_load_when_they_fit_and_are_computed_otherwise(monkeypatch):
    p = probes.preset()
    committed = {"grid": [0.0] * p.grid_points, "images": p.landscape_images, "surfaces": {}, "rows": [], "seconds": 1.0}
    with pytest.raises(ValueError, match="DEEP must be one of"):
        probes.deep_landscape_run("loaded", committed)
    assert probes.deep_landscape_run("load", committed)["trained"] is False
    computed = []
    monkeypatch.setattr(probes, "deep_landscape", lambda p=None, progress=True: computed.append(1) or {"grid": []})
    assert probes.deep_landscape_run("train", committed)["trained"] is True
    assert probes.deep_landscape_run("load", {**committed, "images": 1})["trained"] is True      # other settings
    assert probes.deep_landscape_run("load", None)["trained"] is True
    assert len(computed) == 3
