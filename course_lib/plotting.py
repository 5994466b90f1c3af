"""Plots used across the notebooks: training curves, image grids, a live curve."""

from __future__ import annotations

from .i18n import N_, _

import io
from typing import Mapping, Sequence

import matplotlib.patches as patches
import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor

from .accessibility import PALETTE, figure_alt, png_alt
from .analysis import conv_output_size
from .data import unnormalize
from .stats import paired_difference


def smooth(values: Sequence[float], window: int = 20) -> np.ndarray:
    """Trailing moving average (the first points average what exists so far)."""
    v = np.asarray(values, dtype=float)
    if window <= 1 or len(v) == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def plot_history(histories: Mapping[str, dict] | dict, window: int = 20, axes=None,
                 title: str | None = None):
    """Train (smoothed) and dev loss and accuracy of one run or of several named runs."""
    if "train_loss" in histories:
        histories = {"": histories}
    if axes is None:
        _unused, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    train, dev = _("train"), _("dev")
    for i, (name, h) in enumerate(histories.items()):
        c = colors[i % len(colors)]
        label = f"{name} " if name else ""
        axes[0].plot(h["step"], smooth(h["train_loss"], window), color=c, label=f"{label}{train}")
        axes[1].plot(h["step"], smooth(h["train_acc"], window), color=c, label=f"{label}{train}")
        if h.get("dev_step"):
            axes[0].plot(h["dev_step"], h["dev_loss"], "--o", color=c, ms=3, label=f"{label}{dev}")
            axes[1].plot(h["dev_step"], h["dev_acc"], "--o", color=c, ms=3, label=f"{label}{dev}")
    axes[0].set(xlabel=_("step"), ylabel=_("loss"), title=_("loss"))
    axes[1].set(xlabel=_("step"), ylabel=_("accuracy"), title=_("accuracy"))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        axes[0].figure.suptitle(title)
    axes[0].figure.tight_layout()
    return axes


def show_images(images: Tensor, labels: Sequence | None = None, preds: Sequence | None = None,
                ncols: int = 10, normalized: bool = True, size: float = 1.1, title: str | None = None):
    """A grid of (N, 1, H, W) images; titles show the label, and the prediction when given."""
    images = images.detach().cpu()
    if normalized:
        images = unnormalize(images)
    n = len(images)
    if n == 0:
        raise ValueError(_("no images to show"))
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        parts = []
        if labels is not None:
            parts.append(f"{int(labels[i])}")
        if preds is not None:
            parts.append(f"→{int(preds[i])}")
        wrong = labels is not None and preds is not None and int(labels[i]) != int(preds[i])
        ax.set_title(" ".join(parts), fontsize=9, color="crimson" if wrong else "black")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(matrix: Tensor, ax=None, title: str = N_("confusion matrix")):
    """A confusion matrix (rows: true class, columns: prediction) with counts in the cells."""
    m = np.asarray(matrix)
    if ax is None:
        _unused, ax = plt.subplots(figsize=(4.2, 4))
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                color="white" if v > m.max() / 2 else "black")
    ax.set(xlabel=_("predicted"), ylabel=_("true"), title=_(title), xticks=range(len(m)), yticks=range(len(m)))
    return ax


# The arms' colours (Okabe–Ito): apart for colour-blind readers too, unlike matplotlib's red and
# green (tests/test_accessibility.py measures both).
ARM_COLOURS = {"plain": PALETTE[3], "residual": PALETTE[2], "residual-B": PALETTE[0], "preact": PALETTE[4]}


def figure_to_png(fig) -> bytes:
    """Render a figure to PNG bytes (for ipywidgets.Image) and close it. The PNG carries the
    figure's alt text (`accessibility.figure_alt`) as its "Description"; `png_alt` reads it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Description": figure_alt(fig)})
    plt.close(fig)
    return buf.getvalue()


class LiveCurve:
    """A loss curve redrawn in place while training: an `on_log(history)` callback for
    `Runner.train(on_log=...)` and the experiments.

    It draws into one display slot, so the notebook shows one figure that updates, not one per
    refresh.
    """

    def __init__(self, title: str = N_("training loss (live)"), window: int = 20) -> None:
        self.title, self.window = title, window
        self.handle = None
        self.num_updates = 0

    def render(self, history: dict):
        fig, ax = plt.subplots(figsize=(6, 3))
        if history["step"]:
            ax.plot(history["step"], history["train_loss"], alpha=0.25, color="C0")
            ax.plot(history["step"], smooth(history["train_loss"], self.window), color="C0", label=_("train"))
        if history.get("dev_step"):
            ax.plot(history["dev_step"], history["dev_loss"], "o--", color="C1", label=_("dev"))
        ax.set(xlabel=_("step"), ylabel=_("loss"), title=_(self.title))
        ax.grid(alpha=0.3)
        if history["step"]:
            ax.legend()
        fig.tight_layout()
        return fig

    def __call__(self, history: dict) -> None:
        from IPython.display import Image, display

        png = figure_to_png(self.render(history))
        image = Image(png, metadata={"alt": png_alt(png)})
        self.num_updates += 1
        if self.handle is None:
            self.handle = display(image, display_id=True)
        else:
            self.handle.update(image)


def plot_arms(runs: Sequence[dict], window: int = 25, axes=None, colors=None):
    """Loss and accuracy of several seeds per arm: the mean as a line, ± one std as a band.

    `runs` are dicts with "arm" and "history" (as written by `course_lib.experiments`).
    Train curves are smoothed per seed before averaging; dev curves are shown as markers.
    """
    colors = colors or ARM_COLOURS
    if axes is None:
        _unused, axes = plt.subplots(1, 2, figsize=(12, 4))
    for arm in dict.fromkeys(r["arm"] for r in runs):
        hs = [r["history"] for r in runs if r["arm"] == arm]
        n = min(len(h["step"]) for h in hs)
        steps = np.asarray(hs[0]["step"][:n])
        for ax, key, dev_key in ((axes[0], "train_loss", "dev_loss"), (axes[1], "train_acc", "dev_acc")):
            curves = np.stack([smooth(h[key][:n], window) for h in hs])
            mean, std = curves.mean(0), curves.std(0)
            c = colors.get(arm, None)
            ax.plot(steps, mean, color=c, label=_("{arm} train (n={n})").format(arm=arm, n=len(hs)))
            ax.fill_between(steps, mean - std, mean + std, color=c, alpha=0.2)
            m = min(len(h["dev_step"]) for h in hs)
            if m:
                dev = np.stack([h[dev_key][:m] for h in hs])
                ax.errorbar(hs[0]["dev_step"][:m], dev.mean(0), yerr=dev.std(0), fmt="o--", ms=3,
                            color=c, alpha=0.8, label=_("{arm} dev").format(arm=arm))
    axes[0].set(xlabel=_("step"), ylabel=_("loss"), title=_("loss (mean ± std over seeds)"), yscale="log")
    axes[1].set(xlabel=_("step"), ylabel=_("accuracy"), title=_("accuracy (mean ± std over seeds)"))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].figure.tight_layout()
    return axes


def plot_placement(mine: Sequence[dict], committed: Sequence[dict], window: int = 25, axes=None, colors=None):
    """Your runs among the committed seeds: one panel per arm with the committed runs' training loss
    (smoothed; their range over seeds as a band, their mean as a thin line) and yours on top."""
    colors = colors or ARM_COLOURS
    arms = list(dict.fromkeys(r["arm"] for r in committed))
    if axes is None:
        _unused, axes = plt.subplots(1, len(arms), figsize=(6 * len(arms), 3.8), sharey=True)
    for ax, arm in zip(np.atleast_1d(axes), arms):
        hs = [r["history"] for r in committed if r["arm"] == arm]
        n = min(len(h["step"]) for h in hs)
        curves = np.stack([smooth(h["train_loss"][:n], window) for h in hs])
        steps = np.asarray(hs[0]["step"][:n])
        c = colors.get(arm)
        ax.fill_between(steps, curves.min(0), curves.max(0), color=c, alpha=0.25,
                        label=_("committed seeds {seeds}: range").format(
                            seeds=sorted(r['seed'] for r in committed if r['arm'] == arm)))
        ax.plot(steps, curves.mean(0), color=c, lw=1, label=_("committed seeds: mean"))
        for r in (r for r in mine if r["arm"] == arm):
            h = r["history"]
            ax.plot(h["step"], smooth(h["train_loss"], window), color="black", lw=1.6, ls="--",
                    label=_("your run, seed {seed}").format(seed=r["seed"]))
        ax.set(xlabel=_("step"), ylabel=_("training loss (smoothed)"), yscale="log",
               title=_("{arm}: your run among the committed seeds").format(arm=arm))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return axes


def sweep_error_curves(sweep: dict, arm: str, depth: int, window: int = 20):
    """Steps, and the mean and std over seeds of the smoothed training error, of one (arm, depth)."""
    runs = [r for r in sweep["runs"] if r["arm"] == arm and r["depth"] == depth]
    if not runs:
        return None
    n = min(len(r["step"]) for r in runs)
    curves = np.stack([smooth([1 - a for a in r["train_acc"][:n]], window) for r in runs])
    return np.asarray(runs[0]["step"][:n]), curves.mean(0), curves.std(0), len(runs)


def plot_degradation(sweep: dict, window: int = 20, arms: Sequence[str] = ("plain", "residual"), axes=None):
    """He et al. Fig. 6 style: training error against iteration, one line per depth (the mean
    over seeds, with a ± one std band), one panel per arm, on the same axes limits."""
    depths = sorted({r["depth"] for r in sweep["runs"]})
    if axes is None:
        _unused, axes = plt.subplots(1, len(arms), figsize=(6 * len(arms), 4), sharey=True)
    cmap = plt.get_cmap("viridis")
    for ax, arm in zip(np.atleast_1d(axes), arms):
        for i, depth in enumerate(depths):
            got = sweep_error_curves(sweep, arm, depth, window)
            if got is None:
                continue
            steps, mean, std, n = got
            color = cmap(i / max(len(depths) - 1, 1))
            ax.plot(steps, mean, color=color, label=f"{arm}-{depth}")
            ax.fill_between(steps, np.clip(mean - std, 1e-4, None), mean + std, color=color, alpha=0.2)
        ax.set(xlabel=_("iteration"), title=_("{arm} networks (mean ± std over seeds)").format(arm=arm), yscale="log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel(_("training error (running, smoothed over {window} iterations)").format(window=window))
    np.atleast_1d(axes)[0].figure.tight_layout()
    return axes


def plot_error_vs_depth(rows: Sequence[dict], ax=None, colors=None, ylabel=N_("final training error")):
    """Final training error against depth, one line per arm, mean ± std over seeds as error bars.

    `rows` are the output of `experiments.degradation_table`."""
    colors = colors or ARM_COLOURS
    if ax is None:
        _unused, ax = plt.subplots(figsize=(6.5, 4))
    for arm in dict.fromkeys(r["arm"] for r in rows):
        rs = [r for r in rows if r["arm"] == arm]
        ax.errorbar([r["depth"] for r in rs], [r["mean"] for r in rs], yerr=[r["std"] for r in rs],
                    fmt="o-", capsize=4, color=colors.get(arm), label=_("{arm} (n={n} seeds)").format(arm=arm, n=rs[0]["n"]))
    ax.set(xlabel=_("depth (weighted layers)"), ylabel=_(ylabel), yscale="symlog")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax


def epoch_mean_losses(run: dict) -> list[float]:
    """A sweep run's mean training loss in each epoch (its steps between `epoch_end` marks)."""
    bounds = [0] + run["epoch_end"]
    return [float(np.mean(run["train_loss"][a:b])) for a, b in zip(bounds, bounds[1:])]


def last_epoch_change(runs: Sequence[dict]) -> dict:
    """Has training levelled off? The change of the mean training loss from the second-to-last to
    the last epoch, paired over seeds (`stats.paired_difference`), next to the batch-to-batch
    noise of that change within one run: the standard error of a difference of two epoch means,
    √(s²_last/n_last + s²_before/n_before) from the per-step losses, averaged over the runs."""
    epochs = [epoch_mean_losses(r) for r in runs]
    change = paired_difference([e[-1] for e in epochs], [e[-2] for e in epochs])
    noise = []
    for r in runs:
        b = [0] + r["epoch_end"]
        last, before = np.asarray(r["train_loss"][b[-2]:b[-1]]), np.asarray(r["train_loss"][b[-3]:b[-2]])
        noise.append(float(np.sqrt(last.var(ddof=1) / len(last) + before.var(ddof=1) / len(before))))
    return {**change, "before": float(np.mean([e[-2] for e in epochs])), "last": float(np.mean([e[-1] for e in epochs])),
            "batch_noise": float(np.mean(noise))}


LEVEL_EPOCHS, LEVEL_TOLERANCE = 3, 0.01


def error_fall(run: dict, epochs: int = LEVEL_EPOCHS) -> dict:
    """How much one run's training error (train mode, the mean over an epoch's batches) fell over
    its last `epochs` epochs, and the batch-to-batch noise of that fall: the standard error of a
    difference of two epoch means, √(s²_last/n_last + s²_before/n_before), from the per-step errors."""
    b = [0] + list(run["epoch_end"])
    if len(b) < epochs + 2:
        raise ValueError(_("the run has {n} epochs; the test needs {k}").format(n=len(b) - 1, k=epochs + 1))
    err = 1 - np.asarray(run["train_acc"], dtype=float)
    last, before = err[b[-2]:b[-1]], err[b[-2 - epochs]:b[-1 - epochs]]
    noise = float(np.sqrt(last.var(ddof=1) / len(last) + before.var(ddof=1) / len(before)))
    return {"last": float(last.mean()), "before": float(before.mean()),
            "fall": float(before.mean() - last.mean()), "noise": noise}


def has_levelled_off(runs: Sequence[dict], epochs: int = LEVEL_EPOCHS,
                     tolerance: float = LEVEL_TOLERANCE) -> tuple[bool, list[dict]]:
    """Had training levelled off by the end? A run has when its training error fell by less than
    `tolerance` (1 point) over its last `epochs` epochs, or by no more than two standard errors of
    the batch noise (`error_fall`). Every run of `runs` must have. Under a schedule that decays to
    zero this tests whether the networks were still improving when the schedule stopped them."""
    falls = [error_fall(r, epochs) for r in runs]
    for f in falls:
        f["levelled"] = f["fall"] < tolerance or f["fall"] <= 2 * f["noise"]
    return all(f["levelled"] for f in falls), falls


def plot_budget(result: dict, axes=None, colors=None):
    """The budget experiment (`course_lib.budget`): left, each epoch's training error against the
    step (one line per seed; plain solid, residual dashed; one colour per depth); right, the steps to
    5% training error against depth, one dot per seed, a triangle at the cap for runs that never
    got there."""
    by: dict = {}
    for r in sorted(result["runs"], key=lambda r: r["seed"]):     # {(depth, arm): runs}, as budget.cells
        by.setdefault((r["depth"], r["arm"]), []).append(r)
    if axes is None:
        _unused, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    cfg = result["config"]
    depths = cfg["depths"]
    cmap = plt.get_cmap("viridis")
    for i, depth in enumerate(depths):
        color = cmap(0.85 * i / max(len(depths) - 1, 1))        # viridis without its palest yellow
        for arm, style in (("plain", "-"), ("residual", "--")):
            runs = [r for r in by.get((depth, arm), []) if "epoch_error" in r]
            for k, r in enumerate(runs):                         # one line per seed: runs stop at different steps
                axes[0].plot(r["epoch_end"], np.maximum(r["epoch_error"], 1e-4), style, color=color, lw=1.2,
                             alpha=0.85, label=f"{arm}-{depth}" if k == 0 else None)
    for m in cfg["milestones"]:
        axes[0].axvline(m * cfg["max_steps"], color="grey", lw=0.8, ls=":")
    for t in cfg["thresholds"]:
        axes[0].axhline(t, color="grey", lw=0.6)
    axes[0].set(xlabel=_("step"), ylabel=_("training error of the epoch (train mode)"), yscale="log",
                title=_("training error against steps, one line per seed (dotted: lr ÷ 10)"))
    colors = colors or {"plain": PALETTE[3], "residual": PALETTE[2]}
    for arm, marker, shift in (("plain", "o", -0.6), ("residual", "s", 0.6)):
        for depth in depths:
            for r in by.get((depth, arm), []):
                s = r.get("steps_to", {}).get("0.05")
                axes[1].plot(depth + shift, s if s is not None else cfg["max_steps"],
                             marker if s is not None else "^", color=colors[arm], ms=6,
                             mfc=colors[arm] if s is not None else "none")
        axes[1].plot([], [], marker, color=colors[arm], label=arm)
    axes[1].plot([], [], "^", color="grey", mfc="none", label=_("not reached within the cap"))
    axes[1].set(xlabel=_("depth"), ylabel=_("steps to 5% training error"), yscale="log",
                title=_("steps to 5% training error, one mark per seed"))
    marks = [v for r in result["runs"] for v in [r.get("steps_to", {}).get("0.05")] if v is not None]
    if marks:
        axes[1].set_ylim(min(marks) / 1.5, cfg["max_steps"] * 1.5)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
    return axes


def plot_epoch_loss(sweep: dict, depths: Sequence[int], arm: str = "residual", ax=None):
    """Mean training loss per epoch (over its steps, then over seeds): has training levelled off?"""
    if ax is None:
        _unused, ax = plt.subplots(figsize=(6.5, 4))
    cmap = plt.get_cmap("viridis")
    for i, depth in enumerate(depths):
        runs = [r for r in sweep["runs"] if r["arm"] == arm and r["depth"] == depth]
        if not runs:
            continue
        curves = np.asarray([epoch_mean_losses(r) for r in runs])
        epochs = np.arange(1, curves.shape[1] + 1)
        ax.errorbar(epochs, curves.mean(0), yerr=curves.std(0), fmt="o-", capsize=3,
                    color=cmap(i / max(len(depths) - 1, 1)), label=f"{arm}-{depth}")
    ax.set(xlabel=_("epoch"), ylabel=_("mean training loss in the epoch"), yscale="log",
           title=_("{arm} networks: training loss per epoch (mean ± std over seeds)").format(arm=arm))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax


def sliding_window_figure(size: int, kernel: int, padding: int, stride: int, max_side: int = 16):
    """The padded input grid with the first few window positions along the top row."""
    out = conv_output_size(size, kernel, padding, stride)
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    shown = min(size + 2 * padding, max_side)
    for i in range(shown):
        for j in range(shown):
            pad = not (padding <= i < padding + size and padding <= j < padding + size)
            ax.add_patch(patches.Rectangle((j, shown - 1 - i), 1, 1, fill=True,
                                           facecolor="#eeeeee" if pad else "white", edgecolor="#999999", lw=0.5))
    colors = ["C0", "C1", "C2"]
    for n in range(min(out, 3)):
        x0 = n * stride
        if x0 + kernel > shown:
            break
        ax.add_patch(patches.Rectangle((x0 + 0.06 * n, shown - kernel - 0.06 * n), kernel, kernel, fill=False,
                                       edgecolor=colors[n], lw=2.5, label=_("output column {n}").format(n=n)))
    ax.set_xlim(-0.2, shown + 0.2)
    ax.set_ylim(-0.2, shown + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    title = _("in {size}, k {kernel}, p {padding}, s {stride} → out {out}").format(
        size=size, kernel=kernel, padding=padding, stride=stride, out=out)
    if size + 2 * padding > max_side:
        title += _(" (first 16 cells shown)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8, frameon=False)
    return fig
