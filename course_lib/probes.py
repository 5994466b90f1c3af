"""Probes of trained networks, for notebook 10 (why residual networks work):

- lesions (Veit, Wilber and Belongie, NeurIPS 2016): delete blocks at test time;
- path lengths: the binomial count of paths (Veit et al. §3 and §5), and the gradient that
  flows through paths of each length (Veit et al. §5, Fig. 6);
- loss-landscape slices along filter-normalised random directions (Li et al., NeurIPS 2018).

All measurements run in eval mode (BatchNorm uses its running statistics) and leave the model's
weights and mode as they were.
"""

from __future__ import annotations

from .i18n import _

import contextlib
import math
import random
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .config import eval_mode, is_fast
from .models import ResBlock, ResNet
from .training import accuracy


@dataclass(frozen=True)
class Preset:
    """How finely notebook 10 probes: the only settings fast mode changes."""

    lesion_draws: int          # random choices of the k deleted blocks, per k
    path_images: int           # training digits for the gradient-by-path-length measurement
    path_draws: int            # random choices of the k blocks, per k
    landscape_images: int      # training digits the loss is computed on
    line_points: int           # points of the 1-D slice
    grid_points: int           # points per side of the 2-D slice


PRESETS = {"full": Preset(lesion_draws=10, path_images=256, path_draws=6, landscape_images=512,
                          line_points=41, grid_points=15),
           "fast": Preset(lesion_draws=2, path_images=64, path_draws=2, landscape_images=64,
                          line_points=7, grid_points=5)}


def preset() -> Preset:
    return PRESETS["fast" if is_fast() else "full"]


def blocks(model: ResNet) -> list[tuple[str, nn.Module]]:
    """Every block, in order, as ("layer1.0", block)."""
    return [(f"{stage}.{j}", b) for stage in model.stage_names for j, b in enumerate(getattr(model, stage))]


def removable_blocks(model: ResNet) -> list[str]:
    """The blocks that keep the shape (stride 1, as many channels out as in): deleting one of
    them leaves a network that still runs, in the plain net and in the residual net alike."""
    return [name for name, b in blocks(model)
            if b.conv1.stride == (1, 1) and b.conv1.in_channels == b.conv2.out_channels]


@contextlib.contextmanager
def lesioned(model: ResNet, names: Sequence[str]) -> Iterator[ResNet]:
    """Temporarily replace the named blocks by the identity (the block deleted)."""
    saved = {}
    try:
        for name in names:
            stage, j = name.split(".")
            seq = getattr(model, stage)
            saved[name] = seq[int(j)]
            seq[int(j)] = nn.Identity()
        yield model
    finally:
        for name, block in saved.items():
            stage, j = name.split(".")
            getattr(model, stage)[int(j)] = block


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def single_lesions(model: ResNet, x: Tensor, y: Tensor) -> dict[str, float]:
    """Test accuracy with each removable block deleted in turn ("none": nothing deleted)."""
    out = {"none": accuracy(model, x, y)}
    for name in removable_blocks(model):
        with lesioned(model, [name]):
            out[name] = accuracy(model, x, y)
    return out


def random_lesions(model: ResNet, x: Tensor, y: Tensor, k: int, draws: int, seed: int = 0) -> list[float]:
    """Test accuracy with `k` removable blocks deleted at random, for `draws` random choices."""
    names = removable_blocks(model)
    if not 0 <= k <= len(names):
        raise ValueError(_("k must be between 0 and {names}, got {k}").format(names=len(names), k=k))
    rng = random.Random(seed)
    accs = []
    for _unused in range(draws):
        with lesioned(model, rng.sample(names, k)):
            accs.append(accuracy(model, x, y))
    return accs


def path_length_counts(n: int) -> list[int]:
    """A residual net of n blocks is a collection of 2^n paths; C(n, k) of them pass through
    exactly k residual branches (Veit et al. §3, §5)."""
    return [math.comb(n, k) for k in range(n + 1)]


def _routed_forward(block: ResBlock, through_residual: bool):
    """The block's forward, with the same value, but a backward pass that goes only through the
    residual branch (True) or only through the shortcut (False)."""
    def forward(x: Tensor) -> Tensor:
        f = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
        s = block.shortcut(x)
        return F.relu(f + s.detach() if through_residual else f.detach() + s)
    return forward


def gradient_by_path_length(model: ResNet, x: Tensor, y: Tensor, draws: int = 8,
                            seed: int = 0) -> list[float]:
    """Mean norm of the loss gradient at the first block's input that flows through paths of
    exactly k residual branches, for k = 0 … n (Veit et al. §5, Fig. 6: in the backward pass, k random
    blocks pass the gradient through their residual branch only, the others through their
    shortcut only). Needs a residual net of `ResBlock`s."""
    all_blocks = [b for _unused, b in blocks(model)]
    if not all(isinstance(b, ResBlock) and b.shortcut is not None for b in all_blocks):
        raise ValueError(_("gradient_by_path_length needs a residual net of basic blocks (use_residual=True)"))
    n, rng, out = len(all_blocks), random.Random(seed), []
    x, y = x.to(_device(model)), y.to(_device(model))
    with eval_mode(model):
        h0 = model.stem(x).detach()
        for k in range(n + 1):
            norms = []
            for _unused in range(draws):
                chosen = set(rng.sample(range(n), k))
                h = h0.clone().requires_grad_(True)
                z = h
                for i, b in enumerate(all_blocks):
                    z = _routed_forward(b, i in chosen)(z)
                if model.head_act is not None:
                    z = model.head_act(z)
                loss = F.cross_entropy(model.fc(torch.flatten(model.avgpool(z), 1)), y)
                (grad,) = torch.autograd.grad(loss, h)
                norms.append(grad.norm().item())
            out.append(sum(norms) / len(norms))
    return out


# ----------------------------------------------------------------------------- loss landscape
def filter_normalized_direction(model: nn.Module, seed: int) -> list[Tensor]:
    """A random direction with the shape of the weights, each filter rescaled to the norm of the
    corresponding filter of the model (Li et al. §4); zero for biases and BN parameters."""
    g = torch.Generator().manual_seed(seed)
    direction = []
    for p in model.parameters():
        d = torch.randn(p.shape, generator=g)
        if p.dim() <= 1:
            d.zero_()                         # biases and BN's γ, β stay put, as in Li et al.
        else:
            for d_f, w_f in zip(d, p.detach().cpu()):
                d_f.mul_(w_f.norm() / (d_f.norm() + 1e-10))
        direction.append(d.to(p.device))
    return direction


@torch.no_grad()
def _loss(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return F.cross_entropy(model(x), y).item()


@torch.no_grad()
def loss_surface(model: nn.Module, x: Tensor, y: Tensor, alphas: Sequence[float],
                 betas: Sequence[float] | None = None, seed: int = 0) -> list[list[float]]:
    """Loss on (x, y) at θ + α·d1 (+ β·d2), for each α (and β), in eval mode. One row per α;
    each row holds one value (1-D slice) or one per β (2-D slice). The weights are restored."""
    params = list(model.parameters())
    x, y = x.to(_device(model)), y.to(_device(model))
    theta = [p.detach().clone() for p in params]
    d1 = filter_normalized_direction(model, seed)
    d2 = filter_normalized_direction(model, seed + 1) if betas is not None else None
    rows = []
    try:
        with eval_mode(model):
            for a in alphas:
                row = []
                for b in (betas if betas is not None else [0.0]):
                    for p, t, u in zip(params, theta, d1):
                        p.copy_(t + a * u)
                    if d2 is not None:
                        for p, v in zip(params, d2):
                            p.add_(b * v)
                    row.append(_loss(model, x, y))
                rows.append(row)
    finally:
        for p, t in zip(params, theta):
            p.copy_(t)
    return rows


# ----------------------------------------------------------------------------- the depth-56 slices
DEEP_CHOICES = ("load", "train")


def deep_landscape(p: Preset | None = None, progress: bool = True) -> dict:
    """The 2-D loss slices of plain-56 and residual-56 (seed 0, trained with the sweep's protocol by
    `experiments.train_twins`), on `p.grid_points`² points around each trained net, on the first
    `p.landscape_images` training digits. JSON-ready: what notebook 10 plots and prints."""
    import time

    from .experiments import train_twins

    p = p or preset()
    start = time.perf_counter()
    deep = train_twins(depth=56, seeds=[0], progress=progress)
    grid = [-1 + 2 * i / (p.grid_points - 1) for i in range(p.grid_points)]
    x, y = deep["data"][0].train.x[:p.landscape_images], deep["data"][0].train.y[:p.landscape_images]
    surfaces = {arm: loss_surface(deep["models"][(arm, 0)], x, y, grid, grid, seed=0) for arm in ("plain", "residual")}
    return {"experiment": "deep_landscape", "depth": 56, "seed": 0, "grid": grid, "images": p.landscape_images,
            "surfaces": surfaces, "rows": deep["rows"], "seconds": time.perf_counter() - start}


def deep_landscape_run(choice: str, committed: dict | None, progress: bool = True) -> dict:
    """Notebook 10's depth-56 cell: "load" the committed slices (`data/results/landscape56.json`),
    or "train" the twins here. Where the committed slices were made with other settings (fast
    mode), both choices compute this preset's. The result says which ("trained": True/False)."""
    if choice not in DEEP_CHOICES:
        raise ValueError(_("DEEP must be one of {choices}; got {choice!r}").format(
            choices=", ".join(map(repr, DEEP_CHOICES)), choice=choice))
    p = preset()
    fits = committed is not None and len(committed.get("grid", ())) == p.grid_points and \
        committed.get("images") == p.landscape_images
    if choice == "load" and fits:
        return {**committed, "trained": False}
    return {**deep_landscape(p, progress), "trained": True}
