"""`check_environment()`: one [OK] or [FAIL] line per thing the course needs.

    >>> from course_lib import check_environment
    >>> check_environment()
"""

from __future__ import annotations

from .i18n import N_, _

import importlib
import sys
from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _version(module: str) -> str | None:
    try:
        return getattr(importlib.import_module(module), "__version__", "?")
    except Exception:                       # a broken install can raise anything on import
        return None


def _package(module: str, why: str) -> Check:
    version = _version(module)
    if version is None:
        return Check(module, False, _("not importable; {why}. Fix: pip install -e . (or make lab)").format(why=_(why)))
    return Check(module, True, version)


def environment_checks() -> list[Check]:
    """The checks, as data (tested); `check_environment` prints them."""
    from . import assets, data
    from .config import get_device

    checks = [Check("python", sys.version_info >= (3, 10), sys.version.split()[0] +
                    ("" if sys.version_info >= (3, 10) else _(": the course needs Python 3.10 or newer")))]
    checks.append(_package("torch", N_("the course is written in PyTorch")))
    checks.append(_package("torchvision", N_("notebooks 04, 06 and 09 compare with torchvision")))
    checks.append(_package("ipywidgets", N_("the sliders and buttons need it")))
    kernel = _version("ipykernel")
    if kernel is None:
        checks.append(Check("ipykernel", False, _("not importable; JupyterLab needs it to run notebooks")))
    else:
        bad = kernel.startswith("7.0.")
        checks.append(Check("ipykernel", not bad, kernel + (_(": 7.0.x breaks widget updates from background threads; pip install 'ipykernel!=7.0.*'") if bad else "")))
    try:
        data.verify_bundled()
        checks.append(Check(N_("bundled MNIST"), True, _("10,000 digits, SHA-256 checksums verified")))
    except Exception as err:
        checks.append(Check(N_("bundled MNIST"), False, str(err)))
    try:
        data.cats_dogs_arrays()
        checks.append(Check(N_("bundled cats and dogs"), True, _("2,000 CIFAR-10 photos, SHA-256 checksums verified")))
    except Exception as err:
        checks.append(Check(N_("bundled cats and dogs"), False, str(err)))
    for name, asset in assets.ASSETS.items():
        try:
            assets.cached_files(name)
            checks.append(Check(name, True, _("{spec}, fetched, checksums verified").format(spec=asset.spec)))
        except assets.AssetError as err:
            checks.append(Check(name, False, _("{err} (notebook 09 needs it; online, it falls back to torchvision)").format(err=err)))
    try:
        device = get_device()
        note = (_("the committed results were computed on a CPU") if device.type == "cpu"
                else _("the committed results were computed on a CPU; yours may differ slightly"))
        checks.append(Check("device", True, _("{device} ({note}; set COURSE_DEVICE to choose)").format(device=device, note=note)))
    except ValueError as err:
        checks.append(Check("device", False, str(err)))
    return checks


def check_environment() -> bool:
    """Print one line per requirement and return True when all pass."""
    checks = environment_checks()
    for c in checks:
        print(f"[{'OK' if c.ok else 'FAIL'}] {_(c.name)}: {c.detail}")
    ok = all(c.ok for c in checks)
    print(_("everything the course needs is here") if ok else _("fix the [FAIL] lines above, then restart the kernel"))
    return ok
