"""The course's experiments, as functions and as a command line.

    python -m course_lib.experiments plain-vs-residual [--fast] [--seeds N] [--out results.json]
    python -m course_lib.experiments seed-setting      [--fast] [--seeds N] [--out results.json]
    python -m course_lib.experiments degradation       [--depths 8 14 20 ...] [--fast] [--out ...]

Every comparison is controlled: both arms get the same hyperparameters, the same
initialisation seed and the same data order; only `use_residual` differs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from .config import get_device, is_fast, pick, seed_everything
from .data import TensorLoader, load_mnist
from .metrics import Accuracy, confusion_matrix
from .models import cifar_resnet, resnet18
from .training import Runner

RESULTS_DIR = Path(__file__).resolve().parents[1] / "data" / "results"
ARMS = ("plain", "residual")


@dataclass
class TrainConfig:
    """Hyperparameters shared by both arms of a comparison."""

    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 64
    num_epochs: int = 5
    eval_steps: int = 25
    schedule: str = "constant"     # or "cosine": decay the lr to 0 over the run, step by step

    def __post_init__(self) -> None:
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = list(values)
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def train_arm(model: nn.Module, data, cfg: TrainConfig, seed: int, save_path: str | Path | None = None,
              progress: bool = True, live_plot=None, device=None, max_steps: int | None = None) -> dict:
    """Train one model with `cfg` on `data` (an MNISTSplits); evaluate the best dev model on test.

    The data order depends only on `seed`, so two arms with the same seed see the same batches.
    """
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    train_loader = data.train.loader(cfg.batch_size, shuffle=True, seed=seed)
    total_steps = min(cfg.num_epochs * len(train_loader), max_steps or 10**12)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
                 if cfg.schedule == "cosine" else None)
    runner = Runner(model, opt, nn.CrossEntropyLoss(), Accuracy(), device=device, scheduler=scheduler)
    start = time.perf_counter()
    dev_loader = data.dev.loader(512)
    runner.train(train_loader, dev_loader, num_epochs=cfg.num_epochs, log_steps=10,
                 eval_steps=cfg.eval_steps, save_path=save_path, progress=progress,
                 live_plot=live_plot, max_steps=max_steps)
    runner.restore_best()
    test_acc, test_loss = runner.evaluate(data.test.loader(512))
    logits = runner.predict(data.test.x)
    return {"history": runner.history, "test_acc": test_acc, "test_loss": test_loss,
            "best_dev_acc": max(runner.history["dev_acc"]) if runner.history["dev_acc"] else None,
            "seconds": time.perf_counter() - start,
            "test_pred": logits.argmax(1).cpu().tolist(), "runner": runner}


def _meta(argv: Sequence[str] | None) -> dict:
    cmd = "python -m course_lib.experiments " + " ".join(shlex.quote(a) for a in (argv or []))
    return {"command": cmd.strip(), "fast": is_fast(), "torch": torch.__version__,
            "device": str(get_device()), "threads": torch.get_num_threads(),
            "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")}


def plain_vs_residual_config() -> TrainConfig:
    """The settings both arms share (fast mode: 1 epoch, dev evaluation every 8 steps)."""
    return TrainConfig(lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=64,
                       num_epochs=pick(5, 1), eval_steps=pick(25, 8), schedule="cosine")


def plain_vs_residual(seeds: Sequence[int] | None = None, cfg: TrainConfig | None = None,
                      sizes: tuple[int, int, int] | None = None, progress: bool = True,
                      live_plot=None, keep_models: bool = False) -> dict:
    """ResNet-18 (ImageNet stem, 1×32×32 input) with and without residual connections.

    Defaults: 3 seeds, 5 epochs, SGD lr 0.01 momentum 0.9 with a cosine decay, weight decay
    5e-4, batch 64, the 8,000/1,000/1,000 split. Fast mode: 1 seed, 1 epoch, 1,000/200/200.
    """
    seeds = list(seeds) if seeds is not None else list(range(pick(3, 1)))
    cfg = cfg or plain_vs_residual_config()
    runs, models = [], {}
    for seed in seeds:
        data = load_mnist(*(sizes or (None, None, None)), seed=seed)
        for arm in ARMS:
            seed_everything(seed)                           # same initialisation seed per arm
            model = resnet18(in_channels=1, num_classes=10, use_residual=arm == "residual")
            result = train_arm(model, data, cfg, seed, progress=progress, live_plot=live_plot)
            runner = result.pop("runner")
            if keep_models:
                models[(arm, seed)] = runner.model
            runs.append({"arm": arm, "seed": seed, **result,
                         "test_labels": data.test.y.tolist(),
                         "confusion": confusion_matrix(torch.tensor(result["test_pred"]), data.test.y, 10).tolist()})
    out = {"experiment": "plain-vs-residual", "config": asdict(cfg), "seeds": seeds,
           "sizes": list(data.sizes()), "runs": runs, "summary": summarize(runs)}
    if keep_models:
        out["models"] = models
    return out


def summarize(runs: Sequence[dict]) -> dict:
    """Mean ± std of test accuracy per arm, and of the paired (same-seed) gap."""
    summary = {}
    for arm in ARMS:
        accs = [r["test_acc"] for r in runs if r["arm"] == arm]
        if accs:
            mean, std = _mean_std(accs)
            summary[arm] = {"test_acc_mean": mean, "test_acc_std": std, "n": len(accs),
                            "seconds_mean": statistics.fmean(r["seconds"] for r in runs if r["arm"] == arm)}
    by_seed = {}
    for r in runs:
        by_seed.setdefault(r["seed"], {})[r["arm"]] = r["test_acc"]
    gaps = [d["residual"] - d["plain"] for d in by_seed.values() if len(d) == 2]
    if gaps:
        mean, std = _mean_std(gaps)
        summary["gap"] = {"mean": mean, "std": std, "n": len(gaps)}
    return summary


# The seed course's own setting (NNDL practice book, ResNet-18 on MNIST): 1,000/200/200 images,
# 5 epochs, plain SGD (no momentum); the plain net with lr 0.005 and batch 64, the residual
# net with lr 0.01 and batch 128. Published test accuracies: plain 0.81, residual 0.88.
SEED_SETTINGS = {
    "plain": TrainConfig(lr=0.005, momentum=0.0, batch_size=64, num_epochs=5, eval_steps=15),
    "residual": TrainConfig(lr=0.01, momentum=0.0, batch_size=128, num_epochs=5, eval_steps=8),
}
SEED_PUBLISHED = {"plain": 0.81, "residual": 0.88}


def seed_setting(seeds: Sequence[int] | None = None, progress: bool = False) -> dict:
    """Reproduce the seed course's confounded comparison, then remove the confound.

    Three designs, each over the same seeds:
      "seed (confounded)": each arm with its own lr and batch size, as published;
      "controlled, lr 0.01 batch 128": both arms with the residual arm's settings;
      "controlled, lr 0.005 batch 64": both arms with the plain arm's settings.
    """
    seeds = list(seeds) if seeds is not None else list(range(pick(5, 1)))
    designs = {
        "seed (confounded)": SEED_SETTINGS,
        "controlled, lr 0.01 batch 128": {a: SEED_SETTINGS["residual"] for a in ARMS},
        "controlled, lr 0.005 batch 64": {a: SEED_SETTINGS["plain"] for a in ARMS},
    }
    epochs = pick(5, 1)
    out = {"experiment": "seed-setting", "published": SEED_PUBLISHED, "seeds": seeds, "designs": {}}
    for name, arms in designs.items():
        runs = []
        for seed in seeds:
            data = load_mnist(1000, 200, 200, seed=seed)
            for arm in ARMS:
                cfg = TrainConfig(**{**asdict(arms[arm]), "num_epochs": epochs})
                seed_everything(seed)
                model = resnet18(in_channels=1, num_classes=10, use_residual=arm == "residual")
                result = train_arm(model, data, cfg, seed, progress=progress)
                result.pop("runner")
                runs.append({"arm": arm, "seed": seed, "test_acc": result["test_acc"],
                             "seconds": result["seconds"], "config": asdict(cfg)})
        out["designs"][name] = {"runs": runs, "summary": summarize(runs)}
    return out


DEPTHS = (8, 14, 20, 32, 44, 56)


def degradation(depths: Sequence[int] = DEPTHS, seed: int = 0, cfg: TrainConfig | None = None,
                size: int = 16, num_train: int | None = None, progress: bool = True,
                use_bn: bool = True) -> dict:
    """Train plain and residual `cifar_resnet` at each depth with identical settings.

    Images are 16×16 (the size of the USPS digits) so that the whole sweep fits a CPU;
    the question is optimisation (training error), not test accuracy.
    Defaults: SGD lr 0.05, momentum 0.9, weight decay 1e-4, batch 128, 6 epochs of 8,000 images.
    Fast mode: depths as given, 1 epoch of 512 images.
    """
    cfg = cfg or TrainConfig(lr=0.05, momentum=0.9, weight_decay=1e-4, batch_size=128,
                             num_epochs=pick(6, 1), eval_steps=0)
    num_train = num_train or pick(8000, 512)
    data = load_mnist(num_train, pick(1000, 128), pick(1000, 128), seed=seed, size=size)
    runs = []
    for depth in depths:
        for arm in ARMS:
            seed_everything(seed)
            model = cifar_resnet(depth, use_residual=arm == "residual", use_bn=use_bn)
            result = train_arm(model, data, cfg, seed, progress=progress)
            result.pop("runner")
            result.pop("test_pred")
            h = result["history"]
            runs.append({"depth": depth, "arm": arm, "step": h["step"], "train_loss": h["train_loss"],
                         "train_acc": h["train_acc"], "final_train_loss": final_smoothed(h["train_loss"]),
                         "final_train_error": 1 - final_smoothed(h["train_acc"]),
                         "test_acc": result["test_acc"], "seconds": result["seconds"]})
    return {"experiment": "degradation", "config": asdict(cfg), "size": size, "num_train": num_train,
            "depths": list(depths), "seed": seed, "use_bn": use_bn, "runs": runs}


def final_smoothed(values: Sequence[float], fraction: float = 0.1) -> float:
    """Mean over the last `fraction` of the values (at least one): a smoothed final value."""
    n = max(1, int(len(values) * fraction))
    return statistics.fmean(values[-n:])


def save_results(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in results.items() if k != "models"}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(clean, indent=1))
    os.replace(tmp, path)
    return path


def load_results(name_or_path: str | Path) -> dict:
    """Load a results JSON by path, or by name from `data/results/` (e.g. "plain_vs_residual")."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RESULTS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}; produce it with "
                                f"`python -m course_lib.experiments ...` (see data/results/README.md)")
    return json.loads(path.read_text())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m course_lib.experiments", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="experiment", required=True)
    for name in ("plain-vs-residual", "seed-setting", "degradation"):
        p = sub.add_parser(name)
        p.add_argument("--fast", action="store_true", help="tiny run that checks the code path (COURSE_FAST=1)")
        p.add_argument("--out", type=Path, default=None, help="where to write the JSON results")
        if name == "degradation":
            p.add_argument("--depths", type=int, nargs="+", default=list(DEPTHS))
            p.add_argument("--no-bn", action="store_true", help="train without BatchNorm")
        else:
            p.add_argument("--seeds", type=int, default=None, help="number of seeds (0, 1, ...)")
    args = parser.parse_args(argv)
    if args.fast:
        os.environ["COURSE_FAST"] = "1"
    start = time.perf_counter()
    if args.experiment == "plain-vs-residual":
        seeds = range(args.seeds) if args.seeds else None
        results = plain_vs_residual(seeds)
        for arm, s in results["summary"].items():
            if arm in ARMS:
                print(f"{arm:9s} test accuracy {s['test_acc_mean']:.4f} ± {s['test_acc_std']:.4f} (n={s['n']})")
        g = results["summary"]["gap"]
        print(f"gap (residual - plain, same seed): {g['mean']:+.4f} ± {g['std']:.4f}")
    elif args.experiment == "seed-setting":
        results = seed_setting(range(args.seeds) if args.seeds else None)
        for design, d in results["designs"].items():
            s = d["summary"]
            print(f"{design:32s} plain {s['plain']['test_acc_mean']:.3f}  "
                  f"residual {s['residual']['test_acc_mean']:.3f}  gap {s['gap']['mean']:+.3f}")
    else:
        for depth in args.depths:
            if depth < 8 or (depth - 2) % 6:
                parser.error(f"--depths: {depth} is not 6n+2 (8, 14, 20, 32, 44, 56, 110)")
        results = degradation(args.depths, use_bn=not args.no_bn)
        for r in results["runs"]:
            print(f"depth {r['depth']:3d} {r['arm']:9s} final train loss {r['final_train_loss']:.4f} "
                  f"train error {r['final_train_error']:.4f} ({r['seconds']:.0f} s)")
    results["meta"] = {**_meta(argv), "seconds": time.perf_counter() - start}
    if args.out:
        print("wrote", save_results(results, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def short_run(model: nn.Module, seed: int = 0, num_steps: int | None = None, lr: float = 0.05,
              batch_size: int = 64, size: int = 16, progress: bool = True, live_plot=None,
              runner_hook=None) -> dict:
    """A short training run for demonstrations: `num_steps` SGD steps on MNIST at `size`×`size`.

    Defaults: 150 steps (fast mode: 20) with lr 0.05 and momentum 0.9. Returns the history.
    `runner_hook(runner)` is called before training starts (the depth explorer uses it to wire
    its stop button to `runner.stop_requested`).
    """
    num_steps = num_steps or pick(150, 20)
    data = load_mnist(pick(4000, 1000), 64, 64, seed=seed, size=size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    runner = Runner(model, opt, nn.CrossEntropyLoss(), Accuracy())
    if runner_hook is not None:
        runner_hook(runner)
    loader = data.train.loader(batch_size, shuffle=True, seed=seed)
    epochs = -(-num_steps // len(loader))
    return runner.train(loader, num_epochs=epochs, log_steps=10, progress=progress,
                        live_plot=live_plot, max_steps=num_steps)


TRANSFER_METHODS = ("frozen features + new head", "full fine-tuning", "from scratch")


def _few_shot(split, shots: int, num_classes: int, seed: int):
    """`shots` examples of each class from a Split, chosen with a seed."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.cat([torch.nonzero(split.y == c).flatten()[torch.randperm(int((split.y == c).sum()), generator=g)[:shots]]
                     for c in range(num_classes)])
    return split.x[idx], split.y[idx]


def pretrain_source(seed: int = 0, depth: int = 20, size: int = 16, num_epochs: int | None = None,
                    progress: bool = True) -> tuple[nn.Module, float]:
    """Pretrain `cifar_resnet(depth)` on digits 0–4; returns the model and its test accuracy."""
    data = load_mnist(pick(4000, 800), 200, 500, seed=seed, size=size, classes=range(5))
    seed_everything(seed)
    model = cifar_resnet(depth, num_classes=5)
    cfg = TrainConfig(lr=0.05, momentum=0.9, weight_decay=1e-4, batch_size=64,
                      num_epochs=num_epochs or pick(4, 1), eval_steps=0)
    result = train_arm(model, data, cfg, seed, progress=progress)
    return result["runner"].model, result["test_acc"]


def transfer(shots: Sequence[int] = (10, 50), seeds: Sequence[int] | None = None, depth: int = 20,
             size: int = 16, steps: int | None = None, progress: bool = False) -> dict:
    """Pretrain on digits 0–4, then learn digits 5–9 from `shots` labelled examples per class.

    Three methods, each with the same few examples, steps and seed:
      frozen features + new head: only a new `fc` trains, on the pretrained features;
      full fine-tuning: every layer trains, starting from the pretrained weights (smaller lr);
      from scratch: the same architecture, randomly initialised.
    Tested on 1,000 images of digits 5–9 (fast mode: 200).
    """
    import copy

    seeds = list(seeds) if seeds is not None else list(range(pick(3, 1)))
    steps = steps or pick(150, 15)
    source, source_acc = pretrain_source(seed=0, depth=depth, size=size, progress=progress)
    target = load_mnist(pick(3000, 600), 10, pick(1000, 200), seed=1, size=size, classes=range(5, 10))
    test_loader = target.test.loader(512)
    rows = []
    source_feats_test = _features(source, target.test.x)
    for shot in shots:
        for seed in seeds:
            x, y = _few_shot(target.train, shot, 5, seed)
            for method in TRANSFER_METHODS:
                seed_everything(seed)
                if method.startswith("frozen"):
                    # The pretrained network is a fixed feature extractor: only a new head trains.
                    model = nn.Linear(source.num_features, 5)
                    train_x, test_loader = _features(source, x), TensorLoader(source_feats_test, target.test.y, 512)
                else:
                    model = cifar_resnet(depth, num_classes=5) if method == "from scratch" else copy.deepcopy(source)
                    model.fc = nn.Linear(model.fc.in_features, 5)      # a new head for the new classes
                    train_x, test_loader = x, target.test.loader(512)
                lr = 0.01 if method == "full fine-tuning" else 0.05   # fine-tuning: gentler steps
                opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
                runner = Runner(model, opt, nn.CrossEntropyLoss(), Accuracy())
                loader = TensorLoader(train_x, y, batch_size=32, shuffle=True, seed=seed)
                runner.train(loader, num_epochs=-(-steps // len(loader)), max_steps=steps, progress=False)
                acc, _ = runner.evaluate(test_loader)
                rows.append({"shots": shot, "seed": seed, "method": method, "test_acc": acc,
                             "trainable_params": sum(p.numel() for p in model.parameters())})
    return {"experiment": "transfer", "source_test_acc": source_acc, "shots": list(shots), "seeds": seeds,
            "steps": steps, "depth": depth, "size": size, "rows": rows}


@torch.no_grad()
def _features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Pooled features (N, C) of a course ResNet, in eval mode (frozen BN statistics)."""
    model.eval()
    return torch.flatten(model.avgpool(model.forward_features(x)), 1)
