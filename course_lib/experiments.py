"""The course's experiments, as functions and as a command line.

    python -m course_lib.experiments plain-vs-residual [--fast] [--seeds N] [--out results.json]
    python -m course_lib.experiments seed-setting      [--fast] [--seeds N] [--out results.json]
    python -m course_lib.experiments degradation       [--depths 8 14 20 ...] [--fast] [--out ...]

The controlled comparisons give both arms the same hyperparameters, the same initialisation seed
and the same data order; only the shortcut differs (`use_residual`, or in the degradation sweep
also option A vs B). The seed setting's "confounded" design reproduces the seed course's
comparison, in which the learning rate and batch size differ too.
"""

from __future__ import annotations

import argparse
import json
import math
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

from .config import eval_mode, get_device, is_fast, pick, seed_everything
from .stats import paired_difference
from .data import TensorLoader, load_mnist
from .metrics import Accuracy, confusion_matrix
from .models import check_depth, cifar_resnet, resnet18
from .training import Runner, TrainingDiverged

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
    warmup_steps: int = 0          # linear warm-up over these steps (Goyal et al. 2017), times the schedule

    def __post_init__(self) -> None:
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {self.warmup_steps!r}")


def lr_factor(step: int, total_steps: int, schedule: str, warmup_steps: int = 0) -> float:
    """The multiplier of the base lr before optimizer step `step` (0-based)."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    if schedule == "cosine":
        return warm * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    return warm


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = list(values)
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def train_arm(model: nn.Module, data, cfg: TrainConfig, seed: int, save_path: str | Path | None = None,
              progress: bool = True, live_plot=None, device=None, max_steps: int | None = None,
              restore_best: bool = True) -> dict:
    """Train one model with `cfg` on `data` (an MNISTSplits); evaluate the best dev model on
    test (or the last model, with `restore_best=False`).

    The data order depends only on `seed`, so two arms with the same seed see the same batches.
    """
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    train_loader = data.train.loader(cfg.batch_size, shuffle=True, seed=seed)
    total_steps = cfg.num_epochs * len(train_loader)     # the schedule's length; max_steps may stop it early
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
                 if cfg.schedule == "cosine" and not cfg.warmup_steps else None)
    if cfg.warmup_steps:
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: lr_factor(step, total_steps, cfg.schedule, cfg.warmup_steps))
    runner = Runner(model, opt, nn.CrossEntropyLoss(), Accuracy(), device=device, scheduler=scheduler)
    start = time.perf_counter()
    dev_loader = data.dev.loader(512)
    runner.train(train_loader, dev_loader, num_epochs=cfg.num_epochs, log_steps=10,
                 eval_steps=cfg.eval_steps, save_path=save_path, progress=progress,
                 live_plot=live_plot, max_steps=max_steps)
    if restore_best:
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
                      live_plot=None, keep_models: bool = False, log=print) -> dict:
    """ResNet-18 (ImageNet stem, 1×32×32 input) with and without residual connections.

    Defaults: 5 seeds, 5 epochs, SGD lr 0.01 momentum 0.9 with a cosine decay, weight decay
    5e-4, batch 64, the 8,000/1,000/1,000 split. Fast mode: 1 seed, 1 epoch, 1,000/200/200.
    `log` gets a line before each run: "run k of n", the time so far and an estimate of the rest.
    """
    seeds = list(seeds) if seeds is not None else list(range(pick(5, 1)))
    cfg = cfg or plain_vs_residual_config()
    runs, models = [], {}
    total, start = 2 * len(seeds), time.perf_counter()
    try:
        for seed in seeds:
            data = load_mnist(*(sizes or (None, None, None)), seed=seed)
            for arm in ARMS:
                if log:
                    log(progress_line(len(runs), total, time.perf_counter() - start, f"seed {seed}, {arm}"))
                seed_everything(seed)                           # same initialisation seed per arm
                model = resnet18(in_channels=1, num_classes=10, use_residual=arm == "residual")
                result = train_arm(model, data, cfg, seed, progress=progress, live_plot=live_plot)
                runner = result.pop("runner")
                if keep_models:
                    models[(arm, seed)] = runner.model
                runs.append({"arm": arm, "seed": seed, **result,
                             "test_labels": data.test.y.tolist(),
                             "confusion": confusion_matrix(torch.tensor(result["test_pred"]), data.test.y, 10).tolist()})
    except KeyboardInterrupt:
        print(f"\nInterrupted after {len(runs)} of {total} runs. To see the full results without training, "
              "set TRAIN = False (notebook 07) or call load_results('plain_vs_residual').")
        raise
    if log:
        log(f"done: {total} runs in {format_seconds(time.perf_counter() - start)}")
    out = {"experiment": "plain-vs-residual", "config": asdict(cfg), "seeds": seeds,
           "sizes": list(data.sizes()), "runs": runs, "summary": summarize(runs),
           "seconds": time.perf_counter() - start}
    if keep_models:
        out["models"] = models
    return out


def format_seconds(seconds: float) -> str:
    """42 s, 3 min 05 s, 1 h 02 min."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_line(done: int, total: int, elapsed: float, what: str = "") -> str:
    """"run k of n (what); elapsed ...; about ... left" with the estimate from the runs so far."""
    line = f"run {done + 1} of {total}" + (f" ({what})" if what else "") + f"; elapsed {format_seconds(elapsed)}"
    if done:
        line += f", about {format_seconds(elapsed / done * (total - done))} left (estimated from the runs so far)"
    return line


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
    pairs = [d for d in by_seed.values() if len(d) == 2]
    if pairs:
        summary["gap"] = paired_difference([d["residual"] for d in pairs], [d["plain"] for d in pairs])
    return summary


# The seed course's own setting (seed 000_59ebdc363c1a6bab.txt, after the NNDL practice book,
# 1st ed. 2022, ch. 5): 5 epochs, plain SGD (no momentum); the plain net with lr 0.005 and batch
# 64, the residual net with lr 0.01 and batch 128 (all in the seed's code; one difference: the
# seed evaluates on dev every 15 steps in both arms, we every 8 steps in the residual arm). The 1,000/200/200
# split and the published accuracies (plain 0.81, residual 0.88) are the NNDL book's, as quoted
# by an earlier version of this course; the seed post does not print them.
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


DEPTHS = (8, 14, 20, 32, 44, 56, 110)
# The arms of the degradation sweep: (name, use_residual, shortcut). "residual" is the paper's
# CIFAR network (option A, the same parameters as "plain"); "residual-B" uses 1×1 projections.
SWEEP_ARMS = {"plain": (False, "A"), "residual": (True, "A"), "residual-B": (True, "B")}


def degradation_config() -> TrainConfig:
    """The sweep's shared settings: SGD lr 0.05, momentum 0.9, weight decay 1e-4, batch 128,
    10 epochs (fast mode: 1 epoch). The lr is 0.05 × a linear ramp over the first 64 steps
    (2 epochs of 4,000 images) × a cosine decay from 1 to 0 over the whole run."""
    return TrainConfig(lr=0.05, momentum=0.9, weight_decay=1e-4, batch_size=128,
                       num_epochs=pick(10, 1), eval_steps=0, schedule="cosine",
                       warmup_steps=pick(64, 2))


def degradation(depths: Sequence[int] = DEPTHS, seeds: Sequence[int] | None = None,
                cfg: TrainConfig | None = None, size: int = 16, num_train: int | None = None,
                arms: Sequence[str] | None = None, progress: bool = True, use_bn: bool = True,
                checkpoint: str | Path | None = None, log=print, max_steps: int | None = None) -> dict:
    """Train plain and residual `cifar_resnet` at each depth and seed with identical settings.

    Images are 16×16 (the size of the USPS digits) so that the whole sweep fits a CPU;
    the question is optimisation (training error), not test accuracy. Each seed draws its
    own 4,000-image training set, initialisation and batch order, shared by every arm.
    The final training error is measured in eval mode on the whole training set after the
    last step. Fast mode: 1 seed, 1 epoch of 512 images.
    `checkpoint`: a JSON path rewritten after every run, so an interrupted sweep keeps its runs.
    `max_steps`: stop every run after this many steps (the schedule still spans the full run).
    """
    cfg = cfg or degradation_config()
    seeds = list(seeds) if seeds is not None else list(range(pick(3, 1)))
    arms = list(arms) if arms is not None else list(SWEEP_ARMS)
    unknown = [a for a in arms if a not in SWEEP_ARMS]
    if unknown:
        raise ValueError(f"unknown arms {unknown}; choose from {list(SWEEP_ARMS)}")
    num_train = num_train or pick(4000, 512)
    out = {"experiment": "degradation", "config": asdict(cfg), "size": size, "num_train": num_train,
           "depths": list(depths), "seeds": seeds, "arms": arms, "use_bn": use_bn, "runs": []}
    total, k = len(depths) * len(seeds) * len(arms), 0
    for seed in seeds:
        data = load_mnist(num_train, pick(1000, 128), pick(1000, 128), seed=seed, size=size)
        for depth in depths:
            for arm in arms:
                k += 1
                use_residual, shortcut = SWEEP_ARMS[arm]
                seed_everything(seed)
                model = cifar_resnet(depth, use_residual=use_residual, use_bn=use_bn, shortcut=shortcut)
                try:
                    result = train_arm(model, data, cfg, seed, progress=progress, restore_best=False,
                                       max_steps=max_steps)
                except TrainingDiverged as err:              # record it honestly and go on
                    out.setdefault("diverged", []).append({"depth": depth, "arm": arm, "seed": seed,
                                                           "message": str(err)})
                    if log:
                        log(f"[{k}/{total}] seed {seed} depth {depth} {arm}: diverged ({err})")
                    if checkpoint:
                        save_results(out, checkpoint, force=True)
                    continue
                runner = result.pop("runner")
                h = result["history"]
                train_acc, train_loss = runner.evaluate(data.train.loader(512))   # eval mode, whole training set
                out["runs"].append({
                    "depth": depth, "arm": arm, "seed": seed, "shortcut": shortcut if use_residual else None,
                    "params": sum(p.numel() for p in model.parameters()),
                    "step": h["step"], "train_loss": h["train_loss"], "train_acc": h["train_acc"],
                    "epoch_end": h["epoch_end"],
                    "final_train_error": 1 - train_acc, "final_train_loss": train_loss,
                    "running_train_error": 1 - final_smoothed(h["train_acc"]),
                    "test_acc": result["test_acc"], "seconds": result["seconds"]})
                if log:
                    log(f"[{k}/{total}] seed {seed} depth {depth:3d} {arm:10s} final train error "
                        f"{1 - train_acc:.4f} loss {train_loss:.4f} ({result['seconds']:.0f} s)")
                if checkpoint:
                    save_results(out, checkpoint, force=True)
    return out


def paired_errors(sweep: dict, arm_a: str, depth_a: int, arm_b: str, depth_b: int,
                  metric: str = "final_train_error") -> tuple[list[float], list[float]]:
    """The `metric` of two (arm, depth) cells on the seeds both have, in seed order: ready for
    `stats.paired_difference`. Seeds where either run diverged are left out."""
    a = {r["seed"]: r[metric] for r in sweep["runs"] if r["arm"] == arm_a and r["depth"] == depth_a}
    b = {r["seed"]: r[metric] for r in sweep["runs"] if r["arm"] == arm_b and r["depth"] == depth_b}
    shared = sorted(a.keys() & b.keys())
    return [a[s] for s in shared], [b[s] for s in shared]


def degradation_table(sweep: dict, metric: str = "final_train_error") -> list[dict]:
    """One row per (depth, arm): mean and std over seeds of `metric`, and the mean seconds."""
    rows = []
    for depth in sweep["depths"]:
        for arm in sweep.get("arms", ARMS):
            runs = [r for r in sweep["runs"] if r["depth"] == depth and r["arm"] == arm]
            if runs:
                mean, std = _mean_std([r[metric] for r in runs])
                rows.append({"depth": depth, "arm": arm, "mean": mean, "std": std, "n": len(runs),
                             "seconds": statistics.fmean(r["seconds"] for r in runs)})
    return rows


def final_smoothed(values: Sequence[float], fraction: float = 0.1) -> float:
    """Mean over the last `fraction` of the values (at least one): a smoothed final value."""
    n = max(1, int(len(values) * fraction))
    return statistics.fmean(values[-n:])


def check_out_path(path: str | Path, force: bool = False) -> Path:
    """Fail before a long run, not after it: the folder must be writable, and an existing
    file is kept unless `force`."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"--out {path} is a folder; give a file name such as {path / 'results.json'}")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it (the committed "
                              f"results in data/results/ are what the notebooks show)")
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write to {folder}; choose another --out")
    return path


def save_results(results: dict, path: str | Path, force: bool = True) -> Path:
    path = check_out_path(path, force)
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
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is damaged or truncated ({err}); restore it with "
                         f"`git checkout -- {path}` or re-run its command (data/results/README.md)") from None


def _seed_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes a whole number >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--seeds takes a whole number >= 1, got {n}")
    return n


def _depth(text: str) -> int:
    try:
        return check_depth(int(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m course_lib.experiments", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="experiment", required=True)
    for name in ("plain-vs-residual", "seed-setting", "degradation"):
        p = sub.add_parser(name)
        p.add_argument("--fast", action="store_true", help="tiny run that checks the code path (COURSE_FAST=1)")
        p.add_argument("--out", type=Path, default=None, help="where to write the JSON results")
        p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
        p.add_argument("--seeds", type=_seed_count, default=None, help="number of seeds (0, 1, ...)")
        if name == "degradation":
            p.add_argument("--depths", type=_depth, nargs="+", default=list(DEPTHS))
            p.add_argument("--arms", nargs="+", choices=list(SWEEP_ARMS), default=list(SWEEP_ARMS))
            p.add_argument("--no-bn", action="store_true", help="train without BatchNorm")
    args = parser.parse_args(argv)
    if args.out is not None:
        try:
            check_out_path(args.out, args.force)          # before the run, not after it
        except OSError as err:
            parser.error(str(err))
    if args.fast:
        os.environ["COURSE_FAST"] = "1"
    seeds = range(args.seeds) if args.seeds else None
    start = time.perf_counter()
    if args.experiment == "plain-vs-residual":
        results = plain_vs_residual(seeds)
        for arm, s in results["summary"].items():
            if arm in ARMS:
                print(f"{arm:9s} test accuracy {s['test_acc_mean']:.4f} ± {s['test_acc_std']:.4f} (n={s['n']})")
        g = results["summary"]["gap"]
        print(f"gap (residual - plain, same seed): {g['mean']:+.4f}, 95% CI [{g['ci_low']:+.4f}, {g['ci_high']:+.4f}]")
    elif args.experiment == "seed-setting":
        results = seed_setting(seeds)
        for design, d in results["designs"].items():
            s = d["summary"]
            print(f"{design:32s} plain {s['plain']['test_acc_mean']:.3f}  "
                  f"residual {s['residual']['test_acc_mean']:.3f}  gap {s['gap']['mean']:+.3f}")
    else:
        results = degradation(args.depths, seeds=seeds, arms=args.arms, use_bn=not args.no_bn,
                              checkpoint=args.out)
        for row in degradation_table(results):
            print(f"depth {row['depth']:3d} {row['arm']:10s} final train error "
                  f"{row['mean']:.4f} ± {row['std']:.4f} (n={row['n']}, {row['seconds']:.0f} s per run)")
    results["meta"] = {**_meta(argv), "seconds": time.perf_counter() - start}
    if args.out:
        print("wrote", save_results(results, args.out, force=True))
    return 0



def short_run(model: nn.Module, seed: int = 0, num_steps: int | None = None, lr: float = 0.05,
              batch_size: int = 64, size: int = 16, progress: bool = True, live_plot=None,
              should_stop=None) -> dict:
    """A short training run for demonstrations: `num_steps` SGD steps on MNIST at `size`×`size`.

    Defaults: 150 steps (fast mode: 20) with lr 0.05 and momentum 0.9. Returns the history.
    `should_stop()` is checked after every step (the depth explorer's stop button).
    """
    num_steps = num_steps or pick(150, 20)
    data = load_mnist(pick(4000, 1000), 64, 64, seed=seed, size=size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    runner = Runner(model, opt, nn.CrossEntropyLoss(), Accuracy())
    loader = data.train.loader(batch_size, shuffle=True, seed=seed)
    epochs = -(-num_steps // len(loader))
    return runner.train(loader, num_epochs=epochs, log_steps=10, progress=progress,
                        live_plot=live_plot, max_steps=num_steps, should_stop=should_stop)


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


TRANSFER_LRS = (0.01, 0.03, 0.1)
SEARCH_SEED = 100            # the few-shot draw used only to choose learning rates


def _transfer_run(method: str, source: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float,
                  steps: int, seed: int, depth: int, eval_x: torch.Tensor, eval_y: torch.Tensor) -> float:
    """Train one transfer method on (x, y) for `steps` SGD steps; accuracy on (eval_x, eval_y).

    frozen features + new head: only a new linear head trains, on the pretrained features;
    full fine-tuning: every layer trains, starting from the pretrained weights;
    from scratch: the same architecture, randomly initialised.
    """
    import copy

    seed_everything(seed)
    if method.startswith("frozen"):
        model = nn.Linear(source.num_features, 5)
        x, eval_x = _features(source, x), _features(source, eval_x)
    else:
        model = cifar_resnet(depth, num_classes=5) if method == "from scratch" else copy.deepcopy(source)
        model.fc = nn.Linear(model.fc.in_features, 5)             # a new head for the new classes
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    runner = Runner(model, opt, nn.CrossEntropyLoss(), Accuracy())
    loader = TensorLoader(x, y, batch_size=32, shuffle=True, seed=seed)
    runner.train(loader, num_epochs=-(-steps // len(loader)), max_steps=steps, progress=False)
    acc, _ = runner.evaluate(TensorLoader(eval_x, eval_y, 512))
    return acc


def transfer(shots: Sequence[int] = (10, 50), seeds: Sequence[int] | None = None, depth: int = 20,
             size: int = 16, steps: int | None = None, lrs: Sequence[float] = TRANSFER_LRS,
             progress: bool = False) -> dict:
    """Pretrain on digits 0–4, then learn digits 5–9 from `shots` labelled examples per class.

    Three methods (see `_transfer_run`), each with the same few examples, the same number of
    steps and the same seeds. Each method gets its own learning rate, chosen from `lrs` by
    accuracy on a 500-image dev split of digits 5–9, with a separate few-shot draw
    (SEARCH_SEED); every searched value is reported. Tested on 1,000 images (fast mode: 200).
    """
    seeds = list(seeds) if seeds is not None else list(range(pick(3, 1)))
    steps = steps or pick(150, 15)
    source, source_acc = pretrain_source(seed=0, depth=depth, size=size, progress=progress)
    target = load_mnist(pick(3000, 600), pick(500, 100), pick(1000, 200), seed=1, size=size,
                        classes=range(5, 10))
    search, chosen, rows = [], {}, []
    for shot in shots:
        x, y = _few_shot(target.train, shot, 5, SEARCH_SEED)
        for method in TRANSFER_METHODS:
            for lr in lrs:
                acc = _transfer_run(method, source, x, y, lr, steps, SEARCH_SEED, depth, target.dev.x, target.dev.y)
                search.append({"shots": shot, "method": method, "lr": lr, "dev_acc": acc})
            best = max((r for r in search if r["shots"] == shot and r["method"] == method),
                       key=lambda r: r["dev_acc"])
            chosen[f"{shot}|{method}"] = best["lr"]
    for shot in shots:
        for seed in seeds:
            x, y = _few_shot(target.train, shot, 5, seed)
            for method in TRANSFER_METHODS:
                lr = chosen[f"{shot}|{method}"]
                acc = _transfer_run(method, source, x, y, lr, steps, seed, depth, target.test.x, target.test.y)
                trainable = (source.num_features * 5 + 5 if method.startswith("frozen")
                             else sum(p.numel() for p in cifar_resnet(depth, num_classes=5).parameters()))
                rows.append({"shots": shot, "seed": seed, "method": method, "lr": lr, "test_acc": acc,
                             "trainable_params": trainable})
    return {"experiment": "transfer", "source_test_acc": source_acc, "shots": list(shots), "seeds": seeds,
            "steps": steps, "depth": depth, "size": size, "lrs": list(lrs), "search": search,
            "chosen_lr": chosen, "rows": rows, "sizes": list(target.sizes())}


def transfer_comparisons(results: dict) -> list[str]:
    """For each number of shots, every pair of methods compared paired by seed, in words."""
    from .stats import describe_difference

    lines = []
    for shot in results["shots"]:
        acc = {m: [r["test_acc"] for r in results["rows"] if r["shots"] == shot and r["method"] == m]
               for m in TRANSFER_METHODS}
        for i, a in enumerate(TRANSFER_METHODS):
            for b in TRANSFER_METHODS[i + 1:]:
                ci = paired_difference(acc[a], acc[b])
                lines.append(describe_difference(ci, f"{shot} shots, {a} − {b}"))
    return lines


@torch.no_grad()
def _features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Pooled features (N, C) of a course ResNet, in eval mode (frozen BN statistics), on the CPU."""
    with eval_mode(model):
        x = x.to(next(model.parameters()).device)
        return torch.flatten(model.avgpool(model.forward_features(x)), 1).cpu()


if __name__ == "__main__":
    raise SystemExit(main())
