"""Transfer learning on real photos: the ImageNet ResNet-50 on CIFAR-10 cats vs dogs.

Three ways to learn from k labelled photos per class, as seed 001 does it (an ImageNet ResNet-50
with a new head), each with the same number of SGD steps, the same batch size, the same few-shot
draws and the same seeds, and a learning rate tuned per method and per k on a dev split:

- **frozen + linear head**: the ResNet-50 up to its global pool is fixed; a new 2-way linear
  layer trains on its 2048-d features, computed once and cached;
- **last stage fine-tuned**: conv5_x (`layer4`) and a new head train from the ImageNet weights,
  on cached conv4_x maps; BN statistics stay frozen (BN in eval mode), as is usual with few images;
- **ResNet-18 from scratch**: torchvision's layout, randomly initialised, on the 32×32 photos.

`resnet34_from_scratch` is seed 004's experiment: ResNet-34 (CIFAR stem) trained from scratch.
Fast and full settings are the two `PRESETS`.
"""

from __future__ import annotations

from .i18n import N_, _

import copy
import hashlib
import io
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from tqdm.std import tqdm

from . import assets, files
from .config import eval_mode, is_fast, seed_everything
from .data import Splits, TensorLoader, load_cats_dogs
from .models import resnet18, resnet34
from .pretrained import Pretrained
from .stats import describe_difference, paired_difference
from .training import accuracy

METHODS = (N_("frozen + linear head"), N_("last stage fine-tuned"), N_("ResNet-18 from scratch"))   # the results' keys


def method_name(method: str) -> str:
    """A method's name in the learner's language (`METHODS` are the keys of the results, in English)."""
    return _(method)


LRS = {METHODS[0]: (0.003, 0.01, 0.03, 0.1), METHODS[1]: (0.0003, 0.001, 0.003),
       METHODS[2]: (0.001, 0.003, 0.01, 0.03)}
SEARCH_SEED = 100            # the few-shot draw used only to choose learning rates
FEATURE_DIR = assets.CACHE_DIR / "features"


@dataclass(frozen=True)
class Preset:
    shots: tuple[int, ...]            # labelled photos per class
    seeds: tuple[int, ...]
    size: int                         # side of the ResNet-50's input (photos upsampled from 32)
    steps: int                        # SGD steps per run, the same for every method
    batch_size: int
    lrs: dict
    sizes: tuple[int, int, int]       # train pool, dev, test (see load_cats_dogs)
    resnet34_steps: int


PRESETS = {
    "full": Preset((10, 50, 200, 800), (0, 1, 2), 160, 30, 32, LRS, (1600, 100, 300), 45),
    "fast": Preset((5, 20), (0, 1), 64, 4, 16, {m: v[:2] for m, v in LRS.items()}, (40, 20, 40), 3),
}


def preset() -> Preset:
    return PRESETS["fast" if is_fast() else "full"]


# ----------------------------------------------------------------------------- features
@dataclass
class Features:
    pooled: Tensor        # (N, 2048): the ResNet-50's globally pooled features
    c4: Tensor            # (N, 1024, size/16, size/16), float16: conv4_x's maps, layer4's input


def upsample(x: Tensor, size: int) -> Tensor:
    """(N, 3, 32, 32) -> (N, 3, size, size), bilinear, as torchvision's Resize does it."""
    return x if x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="bilinear",
                                                       align_corners=False)


@torch.no_grad()
def extract_features(model: nn.Module, x: Tensor, size: int, batch_size: int = 50,
                     progress: bool = True) -> Features:
    """Run the ResNet-50 once over the photos: conv4_x maps (kept in float16 to halve their
    memory; fine-tuning starts from them) and the pooled 2048-d features (from float32 maps)."""
    pooled, c4 = [], []
    with eval_mode(model):
        for i in tqdm(range(0, len(x), batch_size), desc=_("ResNet-50 features"), unit=_("batch"),
                      disable=not progress, file=sys.stdout, ncols=90):
            h = model.stem(upsample(x[i:i + batch_size], size))       # (B, 64, s/4, s/4)
            h = model.layer3(model.layer2(model.layer1(h)))           # (B, 1024, s/16, s/16)
            c4.append(h.half())
            pooled.append(torch.flatten(model.avgpool(model.layer4(h)), 1))   # (B, 2048)
    return Features(torch.cat(pooled), torch.cat(c4))


def cached_features(net: Pretrained, x: Tensor, size: int, progress: bool = True, log=print) -> Features:
    """`extract_features`, cached on disk (git-ignored) by weights source, size and photos.

    The cache file is written with its SHA-256 record (`files.write_bytes`); a damaged cache file,
    or one without its record (unverified), is never used: `log` says so and the features are
    computed again. Where the cache cannot be
    written (a read-only or full disk), `log` says why and the features are returned uncached.
    """
    digest = hashlib.sha256(x.numpy().tobytes()).hexdigest()[:16]
    path = FEATURE_DIR / f"resnet50-{net.source}-{size}px-{digest}.pt"
    if path.is_file():
        try:
            saved = torch.load(io.BytesIO(files.read_bytes(path, _("It is computed again now."), required=True)),
                               weights_only=True)
            if saved["pooled"].shape[0] == len(x) == saved["c4"].shape[0]:
                return Features(saved["pooled"], saved["c4"])
            raise ValueError(_("it holds features of {saved_pooled_shape_0} photos, not {x}").format(saved_pooled_shape_0=saved['pooled'].shape[0], x=len(x)))
        except files.DamagedFileError as err:
            log(f"[feature cache] {err}")
        except Exception as err:              # unreadable or of another shape: compute it again
            log(_("[feature cache] {path} is damaged or not a feature cache ({name}: {err}); it is computed again now.").format(path=path, name=type(err).__name__, err=err))
    feats = extract_features(net.model, x, size, progress=progress)
    buffer = io.BytesIO()
    torch.save({"pooled": feats.pooled, "c4": feats.c4}, buffer)
    try:
        files.write_bytes(path, buffer.getvalue())
    except files.FileWriteError as err:       # a cache is optional: use the features uncached
        log(_("[feature cache] not saved, so they will be computed again next time: {err}").format(err=err))
    return feats


# ----------------------------------------------------------------------------- the runs
class LastStage(nn.Module):
    """conv5_x of a pretrained ResNet and a new head; BN layers stay in eval mode."""

    def __init__(self, layer4: nn.Module, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.layer4 = copy.deepcopy(layer4)
        self.fc = nn.Linear(num_features, num_classes)

    def train(self, mode: bool = True) -> "LastStage":
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()                     # frozen statistics: a batch of 20 photos is no estimate
        return self

    def forward(self, c4: Tensor) -> Tensor:               # (N, 1024, h, w)
        h = self.layer4(c4.float())                        # (N, 2048, h/2, w/2)
        return self.fc(h.mean((2, 3)))                     # (N, num_classes)


def few_shot(y: Tensor, shots: int, seed: int) -> Tensor:
    """Indices of `shots` examples of each class, drawn with `seed`."""
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in y.unique().tolist():
        idx = torch.nonzero(y == c).flatten()
        if shots > len(idx):
            raise ValueError(_("asked for {shots} examples of class {c}, the pool holds {idx}").format(shots=shots, c=c, idx=len(idx)))
        picks.append(idx[torch.randperm(len(idx), generator=g)[:shots]])
    return torch.cat(picks)


def fit(model: nn.Module, x: Tensor, y: Tensor, lr: float, steps: int, batch_size: int,
        seed: int, progress: bool = False, desc: str = "training", optimizer: str = "sgd") -> float:
    """`steps` steps of SGD (momentum 0.9, weight decay 1e-4; or Adam) on (x, y), with the
    learning rate decayed from `lr` to 0 along a cosine (so the last steps are small and the
    final weights steady); returns the seconds."""
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    else:
        raise ValueError(_("optimizer must be 'sgd' or 'adam', got {optimizer!r}").format(optimizer=optimizer))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / steps)))
    loader = TensorLoader(x, y, batch_size=min(batch_size, len(y)), shuffle=True, seed=seed)
    start, step = time.perf_counter(), 0
    model.train()
    with tqdm(total=steps, desc=desc, unit=_("step"), disable=not progress, file=sys.stdout, ncols=90) as bar:
        while step < steps:
            for xb, yb in loader:
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()
                step += 1
                bar.update(1)
                if step == steps:
                    break
    model.eval()
    return time.perf_counter() - start


def run_method(method: str, net: Pretrained, feats: dict[str, Features], data: Splits, idx: Tensor,
               lr: float, seed: int, p: Preset, eval_split: str = "test") -> dict:
    """Train one method on the photos `idx` of the train pool; its accuracy on `eval_split`."""
    seed_everything(seed)
    y, target = data.train.y[idx], getattr(data, eval_split)
    if method == METHODS[0]:
        model, x, ex = nn.Linear(2048, 2), feats["train"].pooled[idx], feats[eval_split].pooled
    elif method == METHODS[1]:
        model, x, ex = LastStage(net.model.layer4, 2048, 2), feats["train"].c4[idx], feats[eval_split].c4
    elif method == METHODS[2]:
        model, x, ex = resnet18(num_classes=2), data.train.x[idx], target.x
    else:
        raise ValueError(_("method must be one of {METHODS}, got {method!r}").format(METHODS=METHODS, method=method))
    seconds = fit(model, x, y, lr, p.steps, p.batch_size, seed)
    trainable = sum(q.numel() for q in model.parameters() if q.requires_grad)
    return {"method": method, "lr": lr, "seed": seed, "shots": len(idx) // 2,
            "acc": accuracy(model, ex, target.y, batch_size=100), "seconds": seconds, "trainable_params": trainable}


def photo_transfer(net: Pretrained, p: Preset | None = None, progress: bool = True,
                   chosen_lr: dict | None = None) -> dict:
    """The whole comparison: learning-rate search on the dev split, then every (shots, seed,
    method) on the test split. Returns plain data (JSON-ready). With `chosen_lr` (a committed
    run's) the search is skipped and those rates are used."""
    p = p or preset()
    start = time.perf_counter()
    data = load_cats_dogs(*p.sizes, seed=0)
    x_all = torch.cat([data.train.x, data.dev.x, data.test.x])
    all_feats = cached_features(net, x_all, p.size, progress=progress)
    bounds = {"train": (0, p.sizes[0]), "dev": (p.sizes[0], p.sizes[0] + p.sizes[1]),
              "test": (p.sizes[0] + p.sizes[1], sum(p.sizes))}
    feats = {k: Features(all_feats.pooled[a:b], all_feats.c4[a:b]) for k, (a, b) in bounds.items()}
    feature_seconds = time.perf_counter() - start

    searching = chosen_lr is None
    total = len(p.shots) * ((sum(len(p.lrs[m]) for m in METHODS) if searching else 0) + len(p.seeds) * len(METHODS))
    search, chosen, rows = [], dict(chosen_lr or {}), []
    with tqdm(total=total, desc=_("transfer runs"), unit=_("run"), disable=not progress, file=sys.stdout,
              ncols=90) as bar:
        for shots in (p.shots if searching else ()):
            idx = few_shot(data.train.y, shots, SEARCH_SEED)
            for method in METHODS:
                for lr in p.lrs[method]:
                    search.append(run_method(method, net, feats, data, idx, lr, SEARCH_SEED, p, "dev"))
                    bar.update(1)
                best = max((r for r in search if r["shots"] == shots and r["method"] == method),
                           key=lambda r: r["acc"])                  # the first of equals: the smallest lr
                chosen[f"{shots}|{method}"] = best["lr"]
        for shots in p.shots:
            for seed in p.seeds:
                idx = few_shot(data.train.y, shots, seed)
                for method in METHODS:
                    rows.append(run_method(method, net, feats, data, idx, chosen[f"{shots}|{method}"], seed, p))
                    bar.update(1)
    return {"experiment": "photo_transfer", "preset": asdict(p), "source": net.source,
            "sizes": list(data.sizes()), "search": search, "chosen_lr": chosen, "rows": rows,
            "feature_seconds": feature_seconds, "seconds": time.perf_counter() - start}


RUNS = ("one seed", "full", "none")


def default_run(net: Pretrained, run: str, committed: dict | None, progress: bool = True) -> dict:
    """Notebook 09's section 2 at the chosen `run`: "one seed" trains seed 0 of every (shots, method)
    with the committed learning rates and shows it among the committed seeds; "full" searches and
    trains everything; "none" loads the committed results. Where the committed results were made
    with other settings (fast mode), every choice runs this preset in full. The result has the
    shape of `photo_transfer`'s, plus "trained": the seeds trained here."""
    if run not in RUNS:
        raise ValueError(_("RUN must be one of {runs}; got {run!r}").format(runs=", ".join(map(repr, RUNS)), run=run))
    p = preset()
    matches = committed is not None and committed.get("preset") == json.loads(json.dumps(asdict(p)))
    if run == "full" or not matches:
        return {**photo_transfer(net, p, progress), "trained": list(p.seeds)}
    if run == "none":
        return {**committed, "trained": []}
    mine = photo_transfer(net, replace(p, seeds=(0,)), progress, chosen_lr=committed["chosen_lr"])
    rows = [r for r in committed["rows"] if r["seed"] != 0] + mine["rows"]
    rows.sort(key=lambda r: (p.shots.index(r["shots"]), r["seed"], METHODS.index(r["method"])))
    return {**committed, "rows": rows, "trained": [0], "mine": mine["rows"], "committed_rows": committed["rows"],
            "feature_seconds": mine["feature_seconds"], "seconds": mine["seconds"]}


def placement(results: dict) -> list[str]:
    """For a "one seed" run: each (shots, method) of the learner's seed-0 run among the committed
    seeds, and whether it reproduced the committed seed 0."""
    if not results.get("mine"):
        return []
    lines = []
    for r in results["mine"]:
        theirs = sorted((c for c in results["committed_rows"] if c["shots"] == r["shots"] and c["method"] == r["method"]),
                        key=lambda c: c["seed"])
        same = next((c for c in theirs if c["seed"] == 0), None)
        rank = sum(c["acc"] < r["acc"] for c in theirs)
        repro = (_("the same as the committed seed 0") if same is not None and same["acc"] == r["acc"] else
                 _("{diff:+.1f} points from the committed seed 0").format(diff=100 * (r["acc"] - same["acc"]))
                 if same is not None else "")
        lines.append(_("{shots} per class, {method}: your seed 0 {acc:.1%}; committed seeds {seeds}: {accs} "
                       "({rank} of {n} lower); {repro}").format(
            shots=r["shots"], method=method_name(r["method"]), acc=r["acc"], seeds=", ".join(str(c["seed"]) for c in theirs),
            accs=", ".join(f"{c['acc']:.1%}" for c in theirs), rank=rank, n=len(theirs), repro=repro))
    return lines


def accuracies(results: dict, shots: int, method: str) -> list[float]:
    """Test accuracies of one cell of the table, in seed order."""
    return [r["acc"] for r in results["rows"] if r["shots"] == shots and r["method"] == method]


def comparisons(results: dict) -> list[str]:
    """For each number of shots, every pair of methods compared paired by seed, in words."""
    lines = []
    for shots in results["preset"]["shots"]:
        for i, a in enumerate(METHODS):
            for b in METHODS[i + 1:]:
                ci = paired_difference(accuracies(results, shots, a), accuracies(results, shots, b))
                lines.append(describe_difference(ci, _("{shots} per class, {a} − {b}").format(
                    shots=shots, a=method_name(a), b=method_name(b))))
    return lines


def resnet34_from_scratch(data: Splits, steps: int, lr: float = 1e-4, batch_size: int = 36,
                          seed: int = 0, progress: bool = True) -> dict:
    """Seed 004's experiment: ResNet-34 randomly initialised, trained with Adam (lr 1e-4, batch
    36, as seed 004 does) on all of `data.train`, tested on `data.test`. Unlike the seed, which
    resizes the photos to 224×224 for the ImageNet stem, it keeps them at 32×32 with the CIFAR
    stem (3×3 conv, no max-pool)."""
    seed_everything(seed)
    model = resnet34(num_classes=2, stem="cifar")
    seconds = fit(model, data.train.x, data.train.y, lr, steps, batch_size, seed, progress=progress,
                  desc=_("ResNet-34 from scratch"), optimizer="adam")
    return {"acc": accuracy(model, data.test.x, data.test.y, batch_size=100), "n_test": len(data.test),
            "seconds": seconds, "steps": steps, "epochs": steps * batch_size / len(data.train), "lr": lr, "seed": seed,
            "params": sum(q.numel() for q in model.parameters())}
