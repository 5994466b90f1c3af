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
_FALSE = {"", "0", "false", "no", "off"}


class SettingError(ValueError):
    """An environment variable of the course holds a value it does not accept."""


def check_settings(environ=None) -> None:
    """Refuse, with a message naming the variable and what it accepts, any course environment
    variable that is set to something the course cannot use: COURSE_FAST, COURSE_DEVICE,
    COURSE_LANG, COURSE_DATA_DIR. The command line calls it first; `get_device` checks its own."""
    env = os.environ if environ is None else environ
    fast = env.get("COURSE_FAST")
    if fast is not None and fast.strip().lower() not in _TRUE | _FALSE:
        raise SettingError(_("COURSE_FAST={value!r}: use 1 (fast mode) or 0 (full mode); also accepted: true/false, yes/no, on/off").format(value=fast))
    lang = env.get("COURSE_LANG")
    if lang is not None and lang.strip() and lang.strip().lower().split("_")[0].split("-")[0] not in ("en", "zh"):
        raise SettingError(_("COURSE_LANG={value!r}: use en (English) or zh (简体中文)").format(value=lang))
    device = env.get("COURSE_DEVICE")
    if device is not None and device.strip():
        _device_from(device.strip(), "COURSE_DEVICE")
    data = env.get("COURSE_DATA_DIR")
    if data is not None and not Path(data).is_dir():
        raise SettingError(_("COURSE_DATA_DIR={value!r} is not a folder: point it at a copy of the course's data/ folder, or unset it to use the course's own").format(value=data))


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
    if device is None and os.environ.get("COURSE_DEVICE", "").strip():
        return _device_from(os.environ["COURSE_DEVICE"].strip(), "COURSE_DEVICE")
    if device is not None:
        return _device_from(device, None)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def _device_from(device, variable: str | None) -> torch.device:
    """`device` checked: a known type that is available here (SettingError naming `variable`)."""
    error = SettingError if variable else ValueError
    named = f"{variable}={device!r}" if variable else _("device {device!r}").format(device=device)
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise error(_("unknown device {named}: use cpu, cuda (or cuda:0, cuda:1, …) or mps").format(named=named)) from None
    if chosen.type not in ("cpu", "cuda", "mps"):
        raise error(_("unknown device {named}: use cpu, cuda (or cuda:0, cuda:1, …) or mps").format(named=named))
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise error(_("{named} was asked for, but CUDA is not available here: use cpu, or unset it").format(named=named))
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise error(_("{named}: this machine has {count} CUDA device(s)").format(named=named, count=torch.cuda.device_count()))
    if chosen.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                     and torch.backends.mps.is_available()):
        raise error(_("{named} was asked for, but Apple's MPS is not available here").format(named=named))
    return chosen


def environment_report() -> dict[str, str]:
    """Versions and settings a learner should quote when asking for help (the settings' names in the
    learner's language)."""
    import sys

    import torchvision

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        _("device"): str(get_device()),
        _("cpu threads"): str(torch.get_num_threads()),
        _("fast mode"): str(is_fast()),
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
