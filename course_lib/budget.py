"""Slow or stuck? The budget experiment behind notebook 08's last section.

He et al. (2016, §4.1) "conjecture that the deep plain nets may have exponentially low convergence
rates". The degradation sweep trains every net for 320 steps, so a deep plain net that is still
improving when its schedule ends cannot be told apart from one that is stuck. Here each plain and
residual `cifar_resnet` trains on the sweep's task (4,000 digits at 16×16, the same seeds, data and
initialisation as `degradation.json`) under the paper's kind of schedule: a constant learning rate
(after the sweep's 64-step warm-up) divided by 10 at 50% and 75% of a cap of `max_steps` steps.
Each run records the training error of every epoch (the mean over its batches, in train mode, as
the paper's training curves) and stops at the end of the first epoch below `stop_error`, or at the
cap. What it measures per run: the step at which the epoch's training error first falls below each
threshold (5% and 1%), and the error in eval mode on the whole training set at each budget mark.

    python -m course_lib budget --seeds 3 --out data/results/budget.json [--resume]
"""

from __future__ import annotations

from .i18n import _

import json
import math
import statistics
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
from tqdm.std import tqdm

from . import files
from .config import is_fast, seed_everything
from .data import load_mnist
from .models import cifar_resnet
from .report import format_seconds, progress_line
from .stats import paired_difference
from .training import evaluate

ARMS = ("plain", "residual")
THRESHOLDS = (0.05, 0.01)


@dataclass
class BudgetConfig:
    """The schedule and sizes of the budget experiment (fast mode shrinks them, see `budget_config`)."""

    depths: tuple = (20, 32, 44, 56)
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 128
    warmup_steps: int = 64
    max_steps: int = 2560             # 8 × the sweep's 320 steps
    milestones: tuple = (0.5, 0.75)   # lr ÷ 10 at these fractions of max_steps (He et al. §4.2)
    marks: tuple = (320, 640, 1280, 2560)  # eval-mode training error here, while a run goes on
    stop_error: float = 0.01
    num_train: int = 4000
    num_eval: int = 1000
    size: int = 16
    thresholds: tuple = THRESHOLDS


def budget_config() -> BudgetConfig:
    """The full experiment, or in fast mode a tiny one that exercises every code path."""
    if is_fast():
        return BudgetConfig(depths=(8, 14), max_steps=24, warmup_steps=2, marks=(8, 16, 24),
                            num_train=512, num_eval=128, stop_error=0.0)
    return BudgetConfig()


def lr_at(step: int, cfg: BudgetConfig) -> float:
    """The learning rate of optimizer step `step` (0-based): warm-up, then ÷10 at each milestone."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    drops = sum(step >= m * cfg.max_steps for m in cfg.milestones)
    return cfg.lr * warm * 0.1 ** drops


def train_until(depth: int, arm: str, seed: int, data, cfg: BudgetConfig, progress: bool = True) -> dict:
    """One run: train until an epoch's training error is below `cfg.stop_error`, or `cfg.max_steps`."""
    seed_everything(seed)                                  # the same initialisation in both arms
    model = cifar_resnet(depth, use_residual=arm == "residual")
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    loader = data.train.loader(cfg.batch_size, shuffle=True, seed=seed)   # the same batches in both arms
    loss_fn = nn.CrossEntropyLoss()
    epoch_error, epoch_loss, epoch_end, at_mark = [], [], [], {}
    step, start, stopped = 0, time.perf_counter(), "cap"
    bar = tqdm(total=cfg.max_steps, desc=f"{arm}-{depth} seed {seed}", disable=not progress, leave=False)
    model.train()
    while step < cfg.max_steps:
        wrong = seen = 0
        loss_sum = 0.0
        for x, y in loader:
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg)
            logits = model(x)
            loss = loss_fn(logits, y)
            if not torch.isfinite(loss):
                bar.close()
                return {"depth": depth, "arm": arm, "seed": seed, "diverged_at": step + 1}
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            bar.update(1)
            wrong += (logits.argmax(1) != y).sum().item()
            seen += len(y)
            loss_sum += loss.item() * len(y)
            if step in cfg.marks:
                acc, _loss = evaluate(model, data.train.loader(512))
                at_mark[str(step)] = 1 - acc
                model.train()
            if step >= cfg.max_steps:
                break
        epoch_error.append(wrong / seen)
        epoch_loss.append(loss_sum / seen)
        epoch_end.append(step)
        bar.set_postfix(error=f"{epoch_error[-1]:.3f}")
        if epoch_error[-1] < cfg.stop_error:
            stopped = "threshold"
            break
    bar.close()
    acc, loss = evaluate(model, data.train.loader(512))
    return {"depth": depth, "arm": arm, "seed": seed, "epoch_end": epoch_end, "epoch_error": epoch_error,
            "epoch_loss": epoch_loss, "error_at_mark": at_mark, "steps": step, "stopped": stopped,
            "final_train_error": 1 - acc, "final_train_loss": loss,
            "steps_to": {str(t): steps_to(epoch_end, epoch_error, t) for t in cfg.thresholds},
            "seconds": time.perf_counter() - start}


def steps_to(epoch_end: Sequence[int], epoch_error: Sequence[float], threshold: float) -> int | None:
    """The step at the end of the first epoch whose training error is below `threshold` (None: never)."""
    for end, err in zip(epoch_end, epoch_error):
        if err < threshold:
            return end
    return None


def _order(cfg: BudgetConfig, seeds: Sequence[int]) -> list[tuple[int, str, int]]:
    """Seed by seed, shallow to deep, so that an interrupted experiment has whole seeds."""
    return [(d, a, s) for s in seeds for d in cfg.depths for a in ARMS]


def estimate_seconds(cfg: BudgetConfig, todo: Sequence[tuple[int, str, int]]) -> float:
    """An upper bound: every run to the cap, at the sweep's measured cost per image and layer."""
    from .experiments import SECONDS_PER_IMAGE_LAYER
    return sum(d * cfg.max_steps * cfg.batch_size * SECONDS_PER_IMAGE_LAYER for d, _a, _s in todo)


def run(seeds: Sequence[int], cfg: BudgetConfig | None = None, out: str | Path | None = None,
        resume: bool = False, progress: bool = True, log=print) -> dict:
    """Train every (depth, arm, seed) of `cfg` not yet in `out` (with `resume`), writing `out`
    after every run so an interruption keeps what finished."""
    cfg = cfg or budget_config()
    config = json.loads(json.dumps(asdict(cfg)))           # tuples as lists, as the file holds them
    result = {"experiment": "budget", "config": config, "seeds": list(seeds), "runs": []}
    if resume and out and Path(out).is_file():
        old = files.load_results(out)
        same = lambda c: {k: v for k, v in c.items() if k != "depths"}      # noqa: E731 - depths may be added
        if same(old.get("config", {})) != same(config):
            raise ValueError(_("{out} was made with other settings; resume only with the same settings, "
                               "or choose another --out").format(out=out))
        result["runs"] = [r for r in old["runs"] if r["seed"] in seeds]
        result["config"]["depths"] = sorted(set(old["config"]["depths"]) | set(config["depths"]))
    done = {(r["depth"], r["arm"], r["seed"]) for r in result["runs"]}
    todo = [k for k in _order(cfg, seeds) if k not in done]
    if log:
        log(_("budget: {n} runs to train ({kept} kept from {out}), at most {t} on a 2-core CPU "
              "(every run to the cap; runs that reach the threshold stop sooner)").format(
            n=len(todo), kept=len(done), out=out, t=format_seconds(estimate_seconds(cfg, todo))))
    start, data = time.perf_counter(), {}
    with files.claim(out) if out else nullcontext():
        for k, (depth, arm, seed) in enumerate(todo):
            if log:
                log(progress_line(k, len(todo), time.perf_counter() - start, f"{arm}-{depth}, seed {seed}"))
            if seed not in data:
                data = {seed: load_mnist(cfg.num_train, cfg.num_eval, cfg.num_eval, seed=seed, size=cfg.size)}
            row = train_until(depth, arm, seed, data[seed], cfg, progress=progress)
            result["runs"].append(row)
            if log:
                log("    " + (_("diverged at step {s}").format(s=row["diverged_at"]) if "diverged_at" in row else
                            _("{steps} steps (stopped by: {stopped}), final training error {e:.4f}, {secs:.0f} s").format(
                                steps=row["steps"], stopped=row["stopped"], e=row["final_train_error"],
                                secs=row["seconds"])))
            if out:
                files.save_results(result, out)
    return result


# ----------------------------------------------------------------------------- analysis
def cells(result: dict) -> dict:
    """{(depth, arm): [run, ...]} in seed order."""
    out = {}
    for r in sorted(result["runs"], key=lambda r: r["seed"]):
        out.setdefault((r["depth"], r["arm"]), []).append(r)
    return out


def steps_table(result: dict, threshold: float = 0.05) -> list[dict]:
    """Per depth: each arm's steps to `threshold` by seed (None: not reached within the cap), the
    plain/residual ratio of their geometric means and the paired interval of log2(plain/residual)."""
    by = cells(result)
    cap = result["config"]["max_steps"]
    rows = []
    for depth in result["config"]["depths"]:
        plain, res = by.get((depth, "plain"), []), by.get((depth, "residual"), [])
        row = {"depth": depth, "threshold": threshold, "cap": cap,
               "plain": [r.get("steps_to", {}).get(str(threshold)) for r in plain],
               "residual": [r.get("steps_to", {}).get(str(threshold)) for r in res]}
        pairs = [(p, q) for p, q in zip(row["plain"], row["residual"]) if p is not None and q is not None]
        row["censored"] = sum(v is None for v in row["plain"] + row["residual"])
        if pairs:
            row["log2_ratio"] = paired_difference([math.log2(p) for p, _q in pairs], [math.log2(q) for _p, q in pairs])
        rows.append(row)
    return rows


def error_at_marks(result: dict) -> list[dict]:
    """Per (depth, mark): the eval-mode training error of each arm at that budget, by seed.
    A run that stopped before the mark (it had reached `stop_error`) has no value there."""
    by = cells(result)
    rows = []
    for depth in result["config"]["depths"]:
        for mark in result["config"]["marks"]:
            vals = {arm: [r.get("error_at_mark", {}).get(str(mark)) for r in by.get((depth, arm), [])] for arm in ARMS}
            rows.append({"depth": depth, "mark": mark, **vals})
    return rows


@dataclass
class Fit:
    """A least-squares line y = a + b·x with the slope's 95% interval."""

    a: float
    b: float
    b_low: float
    b_high: float
    r2: float
    n: int
    x: list = field(default_factory=list)
    y: list = field(default_factory=list)


def fit_line(x: Sequence[float], y: Sequence[float]) -> Fit:
    """Ordinary least squares with a t-interval on the slope (n − 2 degrees of freedom)."""
    from .stats import t_quantile_975
    n = len(x)
    if n < 3:
        raise ValueError(_("a line with an interval needs at least 3 points, got {n}").format(n=n))
    mx, my = statistics.fmean(x), statistics.fmean(y)
    sxx = sum((xi - mx) ** 2 for xi in x)
    b = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y)) / sxx
    a = my - b * mx
    resid = [yi - a - b * xi for xi, yi in zip(x, y)]
    sse, sst = sum(r * r for r in resid), sum((yi - my) ** 2 for yi in y)
    se = math.sqrt(sse / (n - 2) / sxx)
    half = t_quantile_975(n - 2) * se
    return Fit(a, b, b - half, b + half, 1 - sse / sst if sst else math.nan, n, list(x), list(y))


def growth_fits(result: dict, arm: str = "plain", threshold: float = 0.05) -> dict:
    """How the steps to `threshold` grow with depth, over every run that reached it:
    "exponential": log2(steps) = a + b·depth (b: doublings per layer);
    "power": log2(steps) = a + b·log2(depth) (b: the exponent). Censored runs are left out
    (they would only make the growth steeper) and counted."""
    xs, ys, censored = [], [], 0
    for (depth, a), runs in sorted(cells(result).items()):
        if a != arm:
            continue
        for r in runs:
            s = r.get("steps_to", {}).get(str(threshold))
            if s is None:
                censored += 1
            else:
                xs.append(depth)
                ys.append(math.log2(s))
    out = {"censored": censored, "n": len(xs)}
    if len(set(xs)) >= 2 and len(xs) >= 3:
        out["exponential"] = fit_line(xs, ys)
        out["power"] = fit_line([math.log2(x) for x in xs], ys)
    return out


def error_at(run: dict, step: int) -> float | None:
    """A run's training error (train mode, the epoch's mean) in its last epoch ending at or before
    `step`; None when no epoch had ended by then."""
    errors = [e for end, e in zip(run["epoch_end"], run["epoch_error"]) if end <= step]
    return errors[-1] if errors else None


def equal_budget(result: dict) -> list[dict]:
    """At each budget mark and depth where every plain run was still training: the plain nets'
    training error (train mode, the mean over the last epoch ending at the mark, the measure the
    thresholds use) minus their residual twins' error in their last epoch, when they stopped at or
    before that mark (paired by seed). The twins had at most as many steps, so a difference above
    zero is a conservative measure of the residual advantage at equal budget."""
    by = cells(result)
    rows = []
    for mark in result["config"]["marks"]:
        for depth in result["config"]["depths"]:
            plain, res = by.get((depth, "plain"), []), by.get((depth, "residual"), [])
            pairs = [(p, q) for p, q in zip(plain, res) if p["seed"] == q["seed"]]
            if not pairs or any(p["steps"] < mark or q["steps"] > mark for p, q in pairs):
                continue
            a = [error_at(p, mark) for p, _q in pairs]
            b = [q["epoch_error"][-1] for _p, q in pairs]
            rows.append({"mark": mark, "depth": depth, "plain": a, "residual": b,
                         "residual_steps": [q["steps"] for _p, q in pairs], "diff": paired_difference(a, b)})
    return rows


def verdicts(result: dict, threshold: float = 0.05) -> list[str]:
    """Slow or stuck, depth by depth, printed from the runs: did every plain run reach `threshold`
    within the cap, and how many times the steps of its residual twin did it take?"""
    lines, by = [], cells(result)
    for row in steps_table(result, threshold):
        name, n = f"plain-{row['depth']}", len(row["plain"])
        if not n:
            continue
        reached = [v for v in row["plain"] if v is not None]
        ci = row.get("log2_ratio")
        if not reached:
            lines.append(_("{name}: stuck within {cap} steps: no seed reached {t:.0%} training error").format(
                name=name, cap=row["cap"], t=threshold))
        elif len(reached) < n:
            missed = [r for r in by[(row["depth"], "plain")] if r.get("steps_to", {}).get(str(threshold)) is None]
            lines.append(_("{name}: {k} of {n} seeds reached {t:.0%} within {cap} steps (after {steps} steps); the "
                           "others ended the cap at {errors} training error (eval mode, whole training set)").format(
                name=name, k=len(reached), n=n, t=threshold, cap=row["cap"], steps=", ".join(map(str, reached)),
                errors=", ".join(f"{r['final_train_error']:.2%}" for r in missed)))
        elif ci and ci["n"] > 1:
            verdict = (_("slower than its residual twin beyond seed noise") if ci["ci_low"] > 0 else
                       _("not slower than its residual twin beyond seed noise") if not ci["excludes_zero"] else
                       _("faster than its residual twin beyond seed noise"))
            lines.append(_("{name}: every seed reached {t:.0%}, after {steps} steps: {m:.1f}× the steps of its residual "
                           "twin (paired 95% CI ×{lo:.1f} to ×{hi:.1f}), {verdict}").format(
                name=name, t=threshold, steps=", ".join(map(str, row["plain"])), m=2 ** ci["mean"],
                lo=2 ** ci["ci_low"], hi=2 ** ci["ci_high"], verdict=verdict))
        else:
            lines.append(_("{name}: every seed reached {t:.0%}, after {steps} steps").format(
                name=name, t=threshold, steps=", ".join(map(str, row["plain"]))))
    return lines
