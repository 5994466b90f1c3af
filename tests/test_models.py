import pytest
import torch
import torch.nn as nn
import torchvision

from course_lib import models
from course_lib.models import (Bottleneck, ResBlock, ResNet, build_model, cifar_resnet,
                               load_torchvision_weights, make_shortcut, resnet50)
from course_lib.profiling import count_params


def test_resblock_shapes_and_switch():
    x = torch.randn(2, 16, 8, 8)
    assert ResBlock(16, 16)(x).shape == (2, 16, 8, 8)
    assert ResBlock(16, 32, stride=2)(x).shape == (2, 32, 4, 4)
    plain = ResBlock(16, 32, stride=2, use_residual=False)
    assert plain.shortcut is None and plain(x).shape == (2, 32, 4, 4)
    assert isinstance(ResBlock(16, 16).shortcut, nn.Identity)
    assert isinstance(ResBlock(16, 32, 2).shortcut, nn.Sequential)


def test_resblock_identity_when_last_bn_zero():
    block = ResBlock(8, 8).eval()
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)
    x = torch.randn(3, 8, 5, 5)
    assert torch.allclose(block(x), torch.relu(x))


def test_bias_switch():
    assert ResBlock(8, 8).conv1.bias is None
    assert ResBlock(8, 8, bias=True).conv1.bias is not None
    assert ResBlock(8, 8, use_bn=False).conv1.bias is not None       # no BN: bias is needed
    assert count_params(models.resnet18(1, 10, bias=True)) == 11_180_170
    assert count_params(models.resnet18(1, 10)) == 11_175_370


def test_bottleneck_v15_and_v1():
    b = Bottleneck(256, 64)
    assert b(torch.randn(1, 256, 8, 8)).shape == (1, 256, 8, 8)
    assert sum(m.weight.numel() for m in (b.conv1, b.conv2, b.conv3)) == 69_632
    v15, v1 = Bottleneck(256, 128, stride=2), Bottleneck(256, 128, stride=2, stride_in_1x1=True)
    assert v15.conv2.stride == (2, 2) and v15.conv1.stride == (1, 1)
    assert v1.conv1.stride == (2, 2) and v1.conv2.stride == (1, 1)
    assert v1(torch.randn(1, 256, 8, 8)).shape == (1, 512, 4, 4)


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_matches_torchvision(name):
    torch.manual_seed(0)
    tv = getattr(torchvision.models, name)(weights=None).eval()
    # Give BN non-trivial statistics so the check covers them, not just ones and zeros.
    for m in tv.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    ours = load_torchvision_weights(models.FACTORIES[name](), tv).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        diff = (ours(x) - tv(x)).abs().max().item()
    assert diff < 1e-5
    assert count_params(ours) == count_params(tv)


def test_load_torchvision_weights_mismatch_message():
    tv = torchvision.models.resnet18(weights=None)
    with pytest.raises(ValueError, match=r"conv1\.bias"):
        load_torchvision_weights(models.resnet18(bias=True), tv)
    with pytest.raises(ValueError, match="shape"):
        load_torchvision_weights(models.resnet18(num_classes=10), tv)


def test_stems_and_shapes():
    m = models.resnet18(1, 10)
    assert m.forward_features(torch.randn(2, 1, 32, 32)).shape == (2, 512, 1, 1)
    m = models.resnet18(1, 10, stem="cifar")
    assert m.forward_features(torch.randn(2, 1, 32, 32)).shape == (2, 512, 4, 4)
    assert m(torch.randn(2, 1, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("depth, blocks", [(8, 1), (20, 3), (56, 9)])
def test_cifar_resnet(depth, blocks):
    m = cifar_resnet(depth)
    assert len(m.layer1) == blocks and len(m.stage_names) == 3
    convs_and_fc = sum(isinstance(x, (nn.Conv2d, nn.Linear)) and x.kernel_size != (1, 1)
                       if isinstance(x, nn.Conv2d) else isinstance(x, nn.Linear) for x in m.modules())
    assert convs_and_fc == depth                     # 6n + 2 weighted layers on the main path
    assert m(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_cifar_resnet20_param_count():
    # Paper Table 6 gives 0.27M for ResNet-20 with zero-padding shortcuts (option A, the default);
    # projections (option B) add 16*32 + 32*64 conv weights and 2*(32 + 64) BN parameters.
    assert count_params(cifar_resnet(20, in_channels=3)) == 269_722
    assert count_params(cifar_resnet(20, in_channels=3, shortcut="B")) == 269_722 + 16 * 32 + 32 * 64 + 2 * (32 + 64)


@pytest.mark.parametrize("call, match", [
    (lambda: cifar_resnet(21), "6n\\+2"),
    (lambda: cifar_resnet(2), "6n\\+2"),
    (lambda: models.resnet18(stem="mnist"), "stem must be one of"),
    (lambda: models.resnet18(in_channels=0), "in_channels must be a positive int"),
    (lambda: ResBlock(0, 8), "in_channels must be a positive int"),
    (lambda: ResBlock(8, 8, stride=3), "stride must be 1 or 2"),
    (lambda: Bottleneck(8, -1), "out_channels"),
    (lambda: ResNet("dense", (2,)), "block must be one of"),
    (lambda: ResNet("basic", (2, 2), widths=(8,)), "equal length"),
    (lambda: build_model({"arch": "vgg"}), "unknown arch"),
])
def test_argument_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_input_channels():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 1, H, W\)"):
        models.resnet18(1, 10)(torch.randn(1, 3, 32, 32))


def test_build_model_roundtrip():
    m = cifar_resnet(14, use_residual=False)
    again = build_model(m.model_args)
    assert again.model_args == m.model_args and again.layer1[0].shortcut is None
    m = models.resnet34(in_channels=1, num_classes=10, stem="cifar")
    assert build_model(m.model_args).stem[0].kernel_size == (3, 3)


def test_make_shortcut():
    assert isinstance(make_shortcut(8, 8, 1), nn.Identity)
    assert make_shortcut(8, 16, 2)(torch.randn(1, 8, 4, 4)).shape == (1, 16, 2, 2)


def test_option_a_shortcut_zero_pads_and_has_no_parameters():
    import torch

    from course_lib.models import ZeroPadShortcut, make_shortcut

    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2]) and not y[:, 16:].any()
    assert sum(p.numel() for p in make_shortcut(16, 32, 2, shortcut="A").parameters()) == 0
    with pytest.raises(ValueError, match="'A'.*'B'"):
        make_shortcut(16, 32, 2, shortcut="C")


@pytest.mark.parametrize("depth, paper_millions", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_resnet_option_a_matches_the_paper_table_6(depth, paper_millions):
    # He et al. 2016, Table 6: # params of the CIFAR-10 ResNets (option A, 3 input channels)
    n = count_params(cifar_resnet(depth, in_channels=3))
    assert round(n / 1e6, 2 if depth < 110 else 1) == paper_millions
    assert n == count_params(cifar_resnet(depth, in_channels=3, use_residual=False))    # same as the plain twin
    assert n < count_params(cifar_resnet(depth, in_channels=3, shortcut="B"))


def test_use_residual_must_be_a_bool():
    with pytest.raises(TypeError, match="True or False"):
        ResBlock(8, 8, use_residual="no")


def test_zero_init_residual_makes_blocks_start_as_identity_or_zero():
    x = torch.relu(torch.randn(2, 16, 8, 8))
    res = cifar_resnet(8, zero_init_residual=True).eval()
    plain = cifar_resnet(8, use_residual=False, zero_init_residual=True).eval()
    with torch.no_grad():
        assert torch.equal(res.layer1[0](x), x)                    # identity shortcut: the identity
        assert bool((plain.layer1[0](x) == 0).all())              # no shortcut: all zeros
    r50 = resnet50(zero_init_residual=True)
    assert all(float(b.bn3.weight.detach().abs().sum()) == 0 for b in r50.layer1)
    assert float(resnet50().layer1[0].bn3.weight.detach().sum()) > 0   # off by default
    tv = torchvision.models.resnet50(zero_init_residual=True)
    assert all(torch.equal(tv.layer1[i].bn3.weight, r50.layer1[i].bn3.weight) for i in range(3))


def test_model_args_are_recorded_by_the_constructor_and_old_checkpoints_still_build():
    m = ResNet("basic", (1, 1), widths=(8, 16), in_channels=1, num_classes=3, name="tiny")
    again = build_model(m.model_args)
    assert again.model_args == m.model_args and sum(p.numel() for p in again.parameters()) == \
        sum(p.numel() for p in m.parameters())
    old = build_model({"arch": "cifar_resnet", "depth": 14, "use_residual": False, "in_channels": 1,
                       "num_classes": 10, "use_bn": True, "shortcut": "A"})
    assert old.model_args["layers"] == [2, 2, 2] and old.layer1[0].shortcut is None
