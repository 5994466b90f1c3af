"""Run-time settings: fast mode, seeding and device choice.

Fast mode (`COURSE_FAST=1`) shrinks epochs and subset sizes *inside* `course_lib`, so that CI
can execute every notebook in minutes. Notebooks never branch on it: they call the same
functions, and the functions choose smaller defaults from a preset table with a "full" and a
"fast" row (`experiments.PRESETS`, `transfer.PRESETS`, `data.MNIST_SIZES`).
"""

from __future__ import annotations

from .i18n import _

import contextlib
import os
import random
from pathlib import Path

import numpy as np
import torch


# Bundled data, cached results and fetched assets live here ($COURSE_DATA_DIR overrides it).
DATA_DIR = Path(os.environ.get("COURSE_DATA_DIR", Path(__file__).resolve().parents[1] / "data"))

_TRUE = {"1", "true", "yes", "on"}


def is_fast() -> bool:
    """True when the environment variable COURSE_FAST is set to 1/true/yes/on."""
    return os.environ.get("COURSE_FAST", "").strip().lower() in _TRUE


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so that CPU runs repeat exactly."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(_("seed must be an int, got {name}").format(name=type(seed).__name__))
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_device(device: str | torch.device | None = None) -> torch.device:
    """The device to use: `device` if given, else $COURSE_DEVICE if set, else CUDA when
    present, else the CPU.

    Apple's MPS is used only when asked for (`COURSE_DEVICE=mps`): some of its kernels are
    nondeterministic or differ from the CPU's, and the committed results are CPU results.
    """
    if device is None:
        device = os.environ.get("COURSE_DEVICE", "").strip() or None
    if device is not None:
        try:
            chosen = torch.device(device)
        except (RuntimeError, TypeError):
            raise ValueError(_("unknown device {device!r}: use 'cpu', 'cuda' or 'mps'").format(device=device)) from None
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(_("device {device!r} was asked for, but CUDA is not available here").format(device=device))
        if chosen.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                         and torch.backends.mps.is_available()):
            raise ValueError(_("device {device!r} was asked for, but Apple's MPS is not available here").format(device=device))
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def environment_report() -> dict[str, str]:
    """Versions and settings a learner should quote when asking for help."""
    import sys

    import torchvision

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "device": str(get_device()),
        "cpu threads": str(torch.get_num_threads()),
        "fast mode": str(is_fast()),
    }


@contextlib.contextmanager
def train_mode(model: torch.nn.Module):
    """Switch `model` to train mode for the block (BatchNorm uses batch statistics and updates
    its running ones), and back to its previous mode afterwards, even when the block raises."""
    was_training = model.training
    model.train()
    try:
        yield model
    finally:
        model.train(was_training)


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    """Switch `model` to eval mode for the block, and back to its previous mode afterwards,
    even when the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
