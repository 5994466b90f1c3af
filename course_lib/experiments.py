"""The course's paper experiments and their presets, as functions (the command line is
`python -m course_lib`). Results files are written and read by `files`; their text by `report`.

The controlled comparisons give both arms the same hyperparameters, the same initialisation seed
and the same data order; only the shortcut differs (`use_residual`, or in the degradation sweep
also option A vs B). The seed setting's "confounded" design reproduces the seed course's
comparison, in which the learning rate and batch size differ too.
"""

from __future__ import annotations

from .i18n import N_, _

import math
import statistics
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn as nn

from . import files
from .config import is_fast, seed_everything
from .files import RESULTS_DIR, check_out_path, load_results, save_results   # noqa: F401 - re-exported
from .stats import paired_difference
from .data import load_mnist
from .metrics import Accuracy, confusion_matrix
from .models import cifar_resnet, resnet18
from .report import format_seconds, progress_line      # noqa: F401 - the notebooks import them from here
from .training import OnLog, Runner, TrainingDiverged, evaluate

ARMS = ("plain", "residual")


@dataclass(frozen=True)
class Preset:
    """The sizes of one experiment that fast mode shrinks."""

    seeds: int = 1
    num_epochs: int = 1
    eval_steps: int = 0
    warmup_steps: int = 0
    num_train: int = 0            # training images (degradation, short-run)
    num_eval: int = 0             # dev and test images each (degradation)
    steps: int = 0                # SGD steps (short-run)


# Full and fast settings, one row per experiment: the only place where they differ.
PRESETS = {
    "plain-vs-residual": {"full": Preset(seeds=5, num_epochs=5, eval_steps=25),
                          "fast": Preset(seeds=1, num_epochs=1, eval_steps=8)},
    "seed-setting":      {"full": Preset(seeds=5, num_epochs=5), "fast": Preset(seeds=1, num_epochs=1)},
    "degradation":       {"full": Preset(seeds=3, num_epochs=10, warmup_steps=64, num_train=4000, num_eval=1000),
                          "fast": Preset(seeds=1, num_epochs=1, warmup_steps=2, num_train=512, num_eval=128)},
    "short-run":         {"full": Preset(steps=150, num_train=4000), "fast": Preset(steps=20, num_train=1000)},
    "twins":             {"full": Preset(seeds=3, num_train=4000, num_eval=1000),
                          "fast": Preset(seeds=2, num_train=512, num_eval=128)},
}


def preset(experiment: str) -> Preset:
    """The current mode's settings of `experiment` (a key of PRESETS)."""
    return PRESETS[experiment]["fast" if is_fast() else "full"]


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
            raise ValueError(_("schedule must be 'constant' or 'cosine', got {schedule!r}").format(schedule=self.schedule))
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(_("warmup_steps must be an int >= 0, got {warmup_steps!r}").format(warmup_steps=self.warmup_steps))


# Measured on a 2-core CPU with 2 threads (data/results/): ResNet-18 on 32×32 digits takes about
# 1.9 ms per image per epoch (plain_vs_residual.json: 71-80 s per run of 5 epochs × 8,000 images;
# seed_setting.json agrees); the sweep's nets at 16×16 take `SECONDS_PER_IMAGE_LAYER` per image,
# layer and epoch (degradation.json: 126-144 s per run at depth 110).
RESNET18_SECONDS_PER_IMAGE_EPOCH = 1.9e-3
SECONDS_PER_IMAGE_LAYER = 3.4e-5  # measured on a 2-core CPU at 16×16 (plain-56: ~530 img/s)


def estimate(experiment: str, num_seeds: int | None = None, depths: Sequence[int] | None = None,
             arms: Sequence[str] | None = None) -> tuple[int, float]:
    """(number of runs, estimated seconds on a 2-core CPU) of a command-line experiment."""
    p = preset(experiment)
    seeds = num_seeds or p.seeds
    if experiment == "plain-vs-residual":
        runs = 2 * seeds
        return runs, runs * p.num_epochs * (1000 if is_fast() else 8000) * RESNET18_SECONDS_PER_IMAGE_EPOCH
    if experiment == "seed-setting":
        runs = 3 * 2 * seeds
        return runs, runs * p.num_epochs * 1000 * RESNET18_SECONDS_PER_IMAGE_EPOCH
    depths, arms = list(depths or DEPTHS), list(arms or DEFAULT_ARMS)
    per_seed = sum(depths) * len(arms) * p.num_epochs * p.num_train * SECONDS_PER_IMAGE_LAYER
    return len(depths) * len(arms) * seeds, seeds * per_seed


def lr_factor(step: int, total_steps: int, schedule: str, warmup_steps: int = 0) -> float:
    """The multiplier of the base lr before optimizer step `step` (0-based)."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    if schedule == "cosine":
        return warm * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    return warm


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = list(values)
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


@dataclass
class ArmResult:
    """What `train_arm` measured. The trained model is the one you passed in (trained in place)."""

    history: dict
    test_acc: float
    test_loss: float
    best_dev_acc: float | None
    seconds: float
    test_pred: list[int]

    def to_dict(self) -> dict:
        return asdict(self)


def train_arm(model: nn.Module, data, cfg: TrainConfig, seed: int, save_path: str | Path | None = None,
              progress: bool = True, on_log: OnLog | None = None, device=None, max_steps: int | None = None,
              restore_best: bool = True) -> ArmResult:
    """Train `model` in place with `cfg` on `data` (train/dev/test `Split`s); evaluate the best dev
    model on test (or the last model, with `restore_best=False`).

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
                 on_log=on_log, max_steps=max_steps)
    if restore_best:
        runner.restore_best()
    test_acc, test_loss = runner.evaluate(data.test.loader(512))
    logits = runner.predict(data.test.x)
    return ArmResult(runner.history, test_acc, test_loss,
                     max(runner.history["dev_acc"]) if runner.history["dev_acc"] else None,
                     time.perf_counter() - start, logits.argmax(1).cpu().tolist())


def plain_vs_residual_config() -> TrainConfig:
    """The settings both arms share (fast mode: 1 epoch, dev evaluation every 8 steps)."""
    p = preset("plain-vs-residual")
    return TrainConfig(lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=64,
                       num_epochs=p.num_epochs, eval_steps=p.eval_steps, schedule="cosine")


def plain_vs_residual(seeds: Sequence[int] | None = None, cfg: TrainConfig | None = None,
                      sizes: tuple[int, int, int] | None = None, progress: bool = True,
                      on_log: OnLog | None = None, log=print, out: str | Path | None = None) -> dict:
    """ResNet-18 (ImageNet stem, 1×32×32 input) with and without residual connections.

    Defaults: 5 seeds, 5 epochs, SGD lr 0.01 momentum 0.9 with a cosine decay, weight decay
    5e-4, batch 64, the 8,000/1,000/1,000 split. Fast mode: 1 seed, 1 epoch, 1,000/200/200.
    `log` gets a line before each run: "run k of n", the time so far and an estimate of the rest.
    `out`: a JSON path rewritten after every finished run, so an interrupted comparison keeps them.
    """
    seeds = list(seeds) if seeds is not None else list(range(preset("plain-vs-residual").seeds))
    cfg = cfg or plain_vs_residual_config()
    runs = []
    total, start = 2 * len(seeds), time.perf_counter()
    result = {"experiment": "plain-vs-residual", "config": asdict(cfg), "seeds": seeds, "sizes": None,
              "runs": runs}                                  # the keys in the committed files' order
    with _kept_on_interrupt(out, lambda: len(runs), total, "RUN = \"none\" (notebook 07) or "
                            "load_results('plain_vs_residual')"):
        for seed in seeds:
            data = load_mnist(*(sizes or (None, None, None)), seed=seed)
            result["sizes"] = list(data.sizes())
            for arm in ARMS:
                if log:
                    log(progress_line(len(runs), total, time.perf_counter() - start,
                                      _("seed {seed}, {arm}").format(seed=seed, arm=arm)))
                seed_everything(seed)                           # same initialisation seed per arm
                model = resnet18(in_channels=1, num_classes=10, use_residual=arm == "residual")
                trained = train_arm(model, data, cfg, seed, progress=progress, on_log=on_log)
                runs.append({"arm": arm, "seed": seed, **trained.to_dict(),
                             "test_labels": data.test.y.tolist(),
                             "confusion": confusion_matrix(torch.tensor(trained.test_pred), data.test.y, 10).tolist()})
                result.update(summary=summarize(runs), seconds=time.perf_counter() - start)
                if out:
                    save_results(result, out)
    if log:
        log(_("done: {total} runs in {format_seconds}").format(total=total, format_seconds=format_seconds(time.perf_counter() - start)))
    return result


def placement(mine: Sequence[dict], committed: Sequence[dict], metric: str = "test_acc") -> list[dict]:
    """Where each of your runs falls among the committed runs of its arm: its `metric`, the
    committed values, how many of them are lower, and the committed run of the same seed."""
    out = []
    for r in mine:
        others = sorted(c[metric] for c in committed if c["arm"] == r["arm"])
        twin = next((c[metric] for c in committed if c["arm"] == r["arm"] and c["seed"] == r["seed"]), None)
        out.append({"arm": r["arm"], "seed": r["seed"], "value": r[metric], "committed": others,
                    "below": sum(v < r[metric] for v in others), "above": sum(v > r[metric] for v in others),
                    "same_seed": twin})
    return out


@contextmanager
def _kept_on_interrupt(out: str | Path | None, finished: Callable[[], int], total: int, see: str):
    """Hold `out`'s lock while the experiment writes it; on Ctrl-C say in one line what was kept."""
    try:
        with (files.claim(out) if out else nullcontext()):
            yield
    except KeyboardInterrupt:
        done = finished()
        kept = (((_("the {done} finished runs are in {out}") if done != 1 else _("the {done} finished run is in {out}"))
                 .format(done=done, out=out)) if out and done
                else _("nothing was saved") + ("" if out else _(" (no output file was given)")))
        print(_("\nInterrupted after {done} of {total} runs: {kept}. To see full results without training, use {see}.").format(done=done, total=total, kept=kept, see=see))
        raise


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


# The seed course's own setting (seed 000_59ebdc363c1a6bab.txt, a student's PyTorch write-up of the
# NNDL practice book's experiment): 5 epochs, plain SGD (no momentum); the plain net with lr 0.005
# and batch 64, the residual net with lr 0.01 and batch 128 (all in the seed's code; one difference:
# the seed evaluates on dev every 15 steps in both arms, we every 8 steps in the residual arm). The
# 1,000/200/200 split and the published accuracies (plain 0.81, residual 0.88) are not in the seed:
# an earlier version of this course quoted them as the NNDL book's, which we could not check offline.
SEED_SETTINGS = {
    "plain": TrainConfig(lr=0.005, momentum=0.0, batch_size=64, num_epochs=5, eval_steps=15),
    "residual": TrainConfig(lr=0.01, momentum=0.0, batch_size=128, num_epochs=5, eval_steps=8),
}
SEED_PUBLISHED = {"plain": 0.81, "residual": 0.88}
SEED_SPLIT = (1000, 200, 200)          # train, dev, test: the split an earlier version of the course used


def design_name(design: str) -> str:
    """A design of `seed_setting` named in the learner's language (its key in the results is English)."""
    return _(design)


def seed_setting(seeds: Sequence[int] | None = None, progress: bool = False,
                 out: str | Path | None = None) -> dict:
    """Reproduce the seed course's confounded comparison, then remove the confound.

    Three designs, each over the same seeds:
      "seed (confounded)": each arm with its own lr and batch size, as published;
      "controlled, lr 0.01 batch 128": both arms with the residual arm's settings;
      "controlled, lr 0.005 batch 64": both arms with the plain arm's settings.
    `out`: a JSON path rewritten after every finished run, so an interrupted run keeps them.
    """
    p = preset("seed-setting")
    seeds = list(seeds) if seeds is not None else list(range(p.seeds))
    designs = {
        N_("seed (confounded)"): SEED_SETTINGS,
        N_("controlled, lr 0.01 batch 128"): {a: SEED_SETTINGS["residual"] for a in ARMS},
        N_("controlled, lr 0.005 batch 64"): {a: SEED_SETTINGS["plain"] for a in ARMS},
    }
    epochs = p.num_epochs
    result = {"experiment": "seed-setting", "published": SEED_PUBLISHED, "seeds": seeds, "designs": {}}
    finished = lambda: sum(len(d["runs"]) for d in result["designs"].values())   # noqa: E731
    with _kept_on_interrupt(out, finished, len(designs) * len(seeds) * 2, "RUN = \"none\" (notebook 07) "
                            "or load_results('seed_setting')"):
        for name, arms in designs.items():
            runs = []
            for seed in seeds:
                data = load_mnist(*SEED_SPLIT, seed=seed)
                for arm in ARMS:
                    cfg = TrainConfig(**{**asdict(arms[arm]), "num_epochs": epochs})
                    seed_everything(seed)
                    model = resnet18(in_channels=1, num_classes=10, use_residual=arm == "residual")
                    trained = train_arm(model, data, cfg, seed, progress=progress)
                    runs.append({"arm": arm, "seed": seed, "test_acc": trained.test_acc,
                                 "seconds": trained.seconds, "config": asdict(cfg)})
                    result["designs"][name] = {"runs": runs, "summary": summarize(runs)}
                    if out:
                        save_results(result, out)
    return result


DEPTHS = (8, 14, 20, 32, 44, 56, 110)
# The arms of the degradation sweep, as `cifar_resnet` arguments. "residual" is the paper's CIFAR
# network (option A, the same parameters as "plain"); "residual-B" uses 1×1 projections;
# "preact" is the pre-activation net of He et al. 2016b (notebook 10), not in the default sweep.
SWEEP_ARMS = {"plain": {"use_residual": False}, "residual": {"shortcut": "A"},
              "residual-B": {"shortcut": "B"}, "preact": {"shortcut": "A", "preact": True}}
DEFAULT_ARMS = ("plain", "residual", "residual-B")


def degradation_config() -> TrainConfig:
    """The sweep's shared settings: SGD lr 0.05, momentum 0.9, weight decay 1e-4, batch 128,
    10 epochs (fast mode: 1 epoch). The lr is 0.05 × a linear ramp over the first 64 steps
    (2 epochs of 4,000 images) × a cosine decay from 1 to 0 over the whole run."""
    p = preset("degradation")
    return TrainConfig(lr=0.05, momentum=0.9, weight_decay=1e-4, batch_size=128,
                       num_epochs=p.num_epochs, eval_steps=0, schedule="cosine",
                       warmup_steps=p.warmup_steps)


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
    p = preset("degradation")
    seeds = list(seeds) if seeds is not None else list(range(p.seeds))
    arms = list(arms) if arms is not None else list(DEFAULT_ARMS)
    unknown = [a for a in arms if a not in SWEEP_ARMS]
    if unknown:
        raise ValueError(_("unknown arms {unknown}; choose from {SWEEP_ARMS}").format(unknown=unknown, SWEEP_ARMS=list(SWEEP_ARMS)))
    if len(set(depths)) != len(depths) or len(set(arms)) != len(arms):
        raise ValueError(_("each depth and arm once, got depths {depths} and arms {arms}: a repeat would record the same run twice").format(depths=list(depths), arms=arms))
    num_train = num_train or p.num_train
    out = {"experiment": "degradation", "config": asdict(cfg), "size": size, "num_train": num_train,
           "depths": list(depths), "seeds": seeds, "arms": arms, "use_bn": use_bn, "runs": []}
    total, k = len(depths) * len(seeds) * len(arms), 0
    with _kept_on_interrupt(checkpoint, lambda: len(out["runs"]) + len(out.get("diverged", [])), total,
                            "load_results('degradation')"):
        for seed in seeds:
            data = load_mnist(num_train, p.num_eval, p.num_eval, seed=seed, size=size)
            for depth in depths:
                for arm in arms:
                    k += 1
                    run = _sweep_run(depth, arm, seed, data, cfg, use_bn, progress, max_steps)
                    if "message" in run:                          # record it honestly and go on
                        out.setdefault("diverged", []).append(run)
                        line = f"diverged ({run['message']})"
                    else:
                        out["runs"].append(run)
                        line = (_("final train error {value:.4f} loss {run_final_train_loss:.4f} ({run_seconds:.0f} s)").format(value=run['final_train_error'], run_final_train_loss=run['final_train_loss'], run_seconds=run['seconds']))
                    if log:
                        log(f"[{k}/{total}] seed {seed} depth {depth:3d} {arm:10s} {line}")
                    if checkpoint:
                        save_results(out, checkpoint, force=True)
    return out


# Fast mode re-runs this many steps of the first epoch (full mode: the whole first epoch).
RERUN_FAST_STEPS = 4


def rerun_first_epoch(sweep: dict, depths: Sequence[int] = (20, 56), arms: Sequence[str] = ("plain", "residual"),
                      seed: int = 0) -> list[dict]:
    """Re-run the first epoch of `seed` at `depths` with the sweep's own settings (its schedule, stopped
    after one epoch) and compare the training losses with the committed ones: same seed, same digits,
    weights and batches, so on the same CPU type, torch version and thread count they should agree.
    One row per run: arm, depth, steps (how many were compared), first_step_diff (the loss of the first
    batch, which depends only on the initial weights and the batch) and max_abs_diff (over every step
    compared: after the first update, floating-point sums in another order, from another CPU type or
    thread count, differ in the last bits, and training can amplify that). Fast mode re-runs the
    first `RERUN_FAST_STEPS` steps only (the same digits: the check needs no more to fail)."""
    cfg = TrainConfig(**sweep["config"])
    steps = -(-sweep["num_train"] // cfg.batch_size)                 # one epoch
    if is_fast():
        steps = min(steps, RERUN_FAST_STEPS)
    p = preset("degradation")
    data = load_mnist(sweep["num_train"], p.num_eval, p.num_eval, seed=seed, size=sweep["size"])
    rows = []
    for depth in depths:
        for arm in arms:
            ref = next((x for x in sweep["runs"] if (x["depth"], x["arm"], x["seed"]) == (depth, arm, seed)), None)
            if ref is None:
                raise ValueError(_("the sweep has no run {arm}-{depth} with seed {seed} to compare with").format(
                    arm=arm, depth=depth, seed=seed))
            seed_everything(seed)
            model = cifar_resnet(depth, use_bn=sweep.get("use_bn", True), **SWEEP_ARMS[arm])
            result = train_arm(model, data, cfg, seed, progress=False, restore_best=False, max_steps=steps)
            losses = result.history["train_loss"]
            n = min(len(losses), len(ref["train_loss"]))
            rows.append({"arm": arm, "depth": depth, "steps": n,
                         "first_step_diff": abs(losses[0] - ref["train_loss"][0]),
                         "max_abs_diff": max(abs(a - b) for a, b in zip(losses[:n], ref["train_loss"][:n]))})
    return rows


# A run whose loss ends above this is reported as diverged: chance level is ln 10 ≈ 2.30, and
# every committed run ends below 2.31 (plain-116 ends near 1e35 without a NaN on the way).
DIVERGED_LOSS = 100.0


def _sweep_run(depth: int, arm: str, seed: int, data, cfg: TrainConfig, use_bn: bool, progress: bool,
               max_steps: int | None) -> dict:
    """One run of the degradation sweep, as its JSON row; a diverged run gets a "message" instead."""
    kwargs = SWEEP_ARMS[arm]
    seed_everything(seed)
    model = cifar_resnet(depth, use_bn=use_bn, **kwargs)
    try:
        result = train_arm(model, data, cfg, seed, progress=progress, restore_best=False, max_steps=max_steps)
    except TrainingDiverged as err:
        return {"depth": depth, "arm": arm, "seed": seed, "message": str(err)}
    h = result.history
    train_acc, train_loss = evaluate(model, data.train.loader(512))   # eval mode, whole training set
    if not math.isfinite(train_loss) or train_loss > DIVERGED_LOSS:
        return {"depth": depth, "arm": arm, "seed": seed,
                "message": _("the final training loss is {train_loss:.3g} (chance is about 2.3): the run diverged").format(train_loss=train_loss)}
    return {"depth": depth, "arm": arm, "seed": seed,
            "shortcut": kwargs.get("shortcut") if kwargs.get("use_residual", True) else None,
            "params": sum(p.numel() for p in model.parameters()),
            "step": h["step"], "train_loss": h["train_loss"], "train_acc": h["train_acc"],
            "epoch_end": h["epoch_end"],
            "final_train_error": 1 - train_acc, "final_train_loss": train_loss,
            "running_train_error": 1 - final_smoothed(h["train_acc"]),
            "test_acc": result.test_acc, "seconds": result.seconds}


def train_twins(depth: int = 20, seeds: Sequence[int] | None = None, arms: Sequence[str] = ARMS,
                progress: bool = True, log=print) -> dict:
    """Plain and residual `cifar_resnet(depth)` on each seed, trained with the degradation
    sweep's protocol (`degradation_config`, 16×16 digits), for notebook 10's probes.

    Returns {"models": {(arm, seed): model}, "data": {seed: splits}, "rows": [...], "seconds": ...};
    the models are trained in place and kept (in eval mode). 3 seeds (fast mode: 2, on 512 images).
    """
    p = preset("twins")
    seeds = list(seeds) if seeds is not None else list(range(p.seeds))
    cfg = degradation_config()
    out = {"models": {}, "data": {}, "rows": [], "depth": depth, "config": asdict(cfg)}
    start, total = time.perf_counter(), len(seeds) * len(arms)
    for seed in seeds:
        data = load_mnist(p.num_train, p.num_eval, p.num_eval, seed=seed, size=16)
        out["data"][seed] = data
        for arm in arms:
            if log:
                log(progress_line(len(out["rows"]), total, time.perf_counter() - start,
                                      _("{name}, seed {seed}").format(name=f"{arm}-{depth}", seed=seed)))
            seed_everything(seed)
            model = cifar_resnet(depth, **SWEEP_ARMS[arm])
            result = train_arm(model, data, cfg, seed, progress=progress, restore_best=False)
            train_acc, _unused = evaluate(model, data.train.loader(512))
            out["models"][(arm, seed)] = model.eval()
            out["rows"].append({"arm": arm, "seed": seed, "final_train_error": 1 - train_acc,
                                "test_acc": result.test_acc, "seconds": result.seconds})
    out["seconds"] = time.perf_counter() - start
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


def short_run(model: nn.Module, seed: int = 0, num_steps: int | None = None, lr: float = 0.05,
              batch_size: int = 64, size: int = 16, progress: bool = True, on_log: OnLog | None = None,
              should_stop=None) -> dict:
    """A short training run for demonstrations: `num_steps` SGD steps on MNIST at `size`×`size`.

    Defaults: 150 steps (fast mode: 20) with lr 0.05 and momentum 0.9. Returns the history.
    `should_stop()` is checked after every step (the depth explorer's stop button).
    """
    p = preset("short-run")
    if num_steps is None:
        num_steps = p.steps
    elif isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(_("num_steps must be a whole number of steps, 1 or more (or None for the default, {default}); got {steps!r}").format(
            default=p.steps, steps=num_steps))
    data = load_mnist(p.num_train, 64, 64, seed=seed, size=size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    runner = Runner(model, opt, nn.CrossEntropyLoss(), Accuracy())
    loader = data.train.loader(batch_size, shuffle=True, seed=seed)
    epochs = -(-num_steps // len(loader))
    return runner.train(loader, num_epochs=epochs, log_steps=10, progress=progress,
                        on_log=on_log, max_steps=num_steps, should_stop=should_stop)


if __name__ == "__main__":            # `python -m course_lib.experiments ...`, as the results record it
    from course_lib.__main__ import main as _main
    raise SystemExit(_main())
