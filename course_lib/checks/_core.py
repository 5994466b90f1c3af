"""What every exercise check shares: the failure message, the placeholder rules, the wrapper that
runs a learner's answer, and the converters that turn an answer into a plain number or tensor.

A check compares plain values only: an answer is converted first (Python and NumPy numbers,
0-d tensors, arrays, float32 or float64), and anything that is not a number or an array is
refused with a message, so that an object whose `==` is always true cannot pass.
"""

from __future__ import annotations

from ..i18n import N_, _

import functools
import math
import numbers
import os
import sys
from typing import Callable

import torch
import torch.nn as nn

SOLUTIONS = "notebooks/solutions.ipynb"
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def solutions_path() -> str:
    """The solutions notebook of the learner's language (notebooks/zh/solutions.ipynb in Chinese)."""
    from ..i18n import language

    return SOLUTIONS if language() == "en" else f"notebooks/{language()}/solutions.ipynb"


def _exercise(name: str) -> str:
    """"Exercise 05.2" in the learner's language."""
    return name.replace("Exercise", _("Exercise"), 1)


def solution_anchor(name: str) -> str | None:
    """`solutions.ipynb#<heading>` for "Exercise 05.2": the link JupyterLab and the site follow to its
    worked answer (JupyterLab's heading ids: the heading text with spaces as dashes)."""
    import json
    import re

    number = name.split()[-1]
    path = os.path.join(os.path.dirname(_PACKAGE_DIR), *solutions_path().split("/"))
    try:
        with open(path, encoding="utf-8") as f:
            cells = json.load(f)["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for cell in cells:
        for line in "".join(cell.get("source", "")).splitlines():
            if re.match(rf"##\s+{re.escape(number)}\b", line):
                return "solutions.ipynb#" + line.lstrip("#").strip().replace(" ", "-")
    return None


def _show_solution_link(name: str) -> None:
    """In a notebook, a clickable link to the exercise's worked answer under the check's message."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        return
    if get_ipython() is None or "IPKernelApp" not in get_ipython().config:
        return
    anchor = solution_anchor(name)
    if anchor:
        display(Markdown(_("[One worked answer to exercise {number}]({anchor}) (try it yourself first).").format(number=name.split()[-1], anchor=anchor)))


class CheckFailed(AssertionError):
    """An exercise answer is wrong; the message says how.

    In Jupyter it shows as one short paragraph, not a traceback (IPython calls
    `_render_traceback_` when an exception defines it)."""

    exercise = "Exercise"

    def _render_traceback_(self) -> list[str]:
        return ["\x1b[1;31m" + _("{exercise}: not yet right.").format(exercise=_exercise(self.exercise)) + f"\x1b[0m {self}",
                _("Change your code and run the cell again (solutions: {path}).").format(path=solutions_path())]


class CheckError(RuntimeError):
    """The check itself failed: a fault of the course, not of the learner's answer."""

    exercise = "Exercise"

    def _render_traceback_(self) -> list[str]:
        return ["\x1b[1;33m" + _("{exercise}: the check could not run.").format(exercise=_exercise(self.exercise)) + f"\x1b[0m {self}"]


class CheckInterrupted(KeyboardInterrupt):
    """Ctrl-C while a check ran the learner's code: one line instead of a long traceback."""

    exercise = "Exercise"

    def _render_traceback_(self) -> list[str]:
        return ["\x1b[1;33m" + _("{exercise}: interrupted.").format(exercise=_exercise(self.exercise)) + "\x1b[0m "
                + _("Nothing was checked; if your code hangs, run it on a small input first.")]


class _NotAttempted(Exception):
    """The answer is still a placeholder: `...`, `pass`, `None` or NotImplementedError."""


class _LearnerError(Exception):
    """An exception raised inside the learner's own code, wrapped so the check can tell it apart."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


_STUB_OPS = {"RESUME", "NOP", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST", "POP_TOP", "CACHE"}


def _is_stub(fn) -> bool:
    """True when a function's body does nothing (`...`, `pass`, or a docstring): a placeholder."""
    import dis

    code = getattr(fn, "__code__", None)
    return code is not None and all(i.opname in _STUB_OPS for i in dis.get_instructions(code))


def _is_learner_code(filename: str) -> bool:
    """Whether a frame's file is the learner's: a notebook cell or a file outside course_lib,
    Python and its packages."""
    if filename.startswith("<"):
        return not filename.startswith("<frozen")           # <ipython-input-…>, <string>, <stdin>
    system = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    path = os.path.realpath(filename)
    return not path.startswith(_PACKAGE_DIR + os.sep) and not any(path.startswith(p + os.sep) for p in system) \
        and "site-packages" not in path and "dist-packages" not in path


def _learner_frame(tb) -> bool:
    """True when a traceback passes through the learner's own code."""
    while tb is not None:
        if _is_learner_code(tb.tb_frame.f_code.co_filename):
            return True
        tb = tb.tb_next
    return False


def _learner_line(tb) -> str:
    """' (in f, line 3)': where in the learner's own code an exception was raised ('' if nowhere)."""
    where = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        if _is_learner_code(code.co_filename):
            where = _(" (in {function}, line {line})").format(function=code.co_name, line=tb.tb_lineno)
        tb = tb.tb_next
    return where


def run(fn: Callable, *args, **kwargs):
    """Call the learner's code; an exception it raises is marked as the learner's. One already
    marked (`fn` is an answer that `exercise` guarded, which runs through `run` itself) passes
    through as it is, not marked a second time."""
    try:
        return fn(*args, **kwargs)
    except (_NotAttempted, _LearnerError, CheckFailed, NotImplementedError, KeyboardInterrupt):
        raise
    except (Exception, SystemExit) as err:                 # noqa: BLE001 - any error of the learner's code,
        raise _LearnerError(err) from err                  # sys.exit() included: it must not end the kernel's cell


def _placeholder_guard(answer):
    """Wrap a function answer: returning `...`, or None from an empty body, counts as not
    attempted; returning None from a body that does work is a forgotten `return`."""
    if isinstance(answer, type) or not callable(answer):
        return answer

    @functools.wraps(answer)
    def guarded(*args, **kwargs):
        result = run(answer, *args, **kwargs)
        if result is Ellipsis or (result is None and _is_stub(answer)):
            raise _NotAttempted
        if result is None:
            raise CheckFailed(_("Your function returned None: did you forget `return`?"))
        return result
    return guarded


def exercise(name: str):
    """Decorator for a check: placeholders are reported, wrong answers raise CheckFailed, an error in
    the learner's code is reported as theirs, an error of the check's own as the course's."""
    def wrap(check: Callable) -> Callable:
        @functools.wraps(check)
        def runner(answer) -> None:
            not_attempted = _("{name}: not attempted yet. Replace the placeholder (`...`, `pass` or "
                              "`raise NotImplementedError`) with your code and run the cell again "
                              "(solutions: {path}).").format(name=_exercise(name), path=solutions_path())
            if answer is None or answer is Ellipsis:
                print(not_attempted)
                _show_solution_link(name)
                return
            try:
                check(_placeholder_guard(answer))
            except (NotImplementedError, _NotAttempted):
                print(not_attempted)
                return
            except CheckFailed as err:
                err.exercise = name
                _show_solution_link(name)
                raise
            except KeyboardInterrupt:
                stop = CheckInterrupted()
                stop.exercise = name
                raise stop from None
            except _LearnerError as wrapped:
                err = wrapped.error
                if isinstance(err, (NotImplementedError, _NotAttempted)):
                    print(not_attempted)
                    return
                failed = CheckFailed(_("Your code raised {name}: {first_line}{where}. The check called it as described above the cell; run `%debug` or `%tb` to see where.").format(name=type(err).__name__, first_line=_first_line(err), where=_learner_line(err.__traceback__)))
                failed.exercise = name
                _show_solution_link(name)
                raise failed from err
            except (Exception, SystemExit) as err:        # noqa: BLE001
                if isinstance(err, TypeError) and "object is not callable" in str(err) and not callable(answer):
                    failed = CheckFailed(_("{name} expects a function (or class) to call; you passed a value of type {kind}. Pass the function itself, without calling it: check(my_function), not check(my_function(...)).").format(
                        name=_exercise(name), kind=type(answer).__name__))
                    failed.exercise = name
                    raise failed from None
                if isinstance(err, SystemExit) or _learner_frame(err.__traceback__):   # learner code called indirectly
                    failed = CheckFailed(_("Your code raised {name}: {first_line}{where}. Run `%debug` or `%tb` to see where.").format(name=type(err).__name__, first_line=_first_line(err), where=_learner_line(err.__traceback__)))
                    failed.exercise = name
                    _show_solution_link(name)
                    raise failed from err
                broken = CheckError(_("{name} inside the check: {first_line}. This is a fault of the course, not of your answer; please report it.").format(name=type(err).__name__, first_line=_first_line(err)))
                broken.exercise = name
                raise broken from err
            print(_("{name} passed").format(name=_exercise(name)))
        return runner
    return wrap


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else "").rstrip(".")[:200]


def expect(condition: bool, message: str) -> None:
    """Raise CheckFailed(message) unless condition holds."""
    if not condition:
        raise CheckFailed(message)


def _refuse(value, what: str):
    raise CheckFailed(_("Answer with {what}; you gave a value of type {name}.").format(what=_(what), name=type(value).__name__))


def number(value, what: str = N_("a number")) -> float:
    """A Python or NumPy number, or a one-element tensor or array, as a plain float.

    A float or int subclass is read through the base type, so overridden operators play no part;
    bools, strings and other objects are refused."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        _refuse(value, what)
    if isinstance(value, torch.Tensor):
        t = value.as_subclass(torch.Tensor).detach()
        if t.numel() != 1 or t.dtype in (torch.bool,) or t.is_complex():
            _refuse(value, what)
        return float(torch.Tensor.item(t.cpu().double()))
    if isinstance(value, np.ndarray):
        if value.size != 1 or value.dtype.kind not in "iuf":
            _refuse(value, what)
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    if isinstance(value, np.generic):
        if value.dtype.kind not in "iuf":
            _refuse(value, what)
        return float(np.float64(value))
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, int):
        return float(int.__index__(value))
    if isinstance(value, numbers.Real) and type(value).__module__ in ("fractions", "decimal"):
        return float(value)
    _refuse(value, what)


def integer(value, what: str = N_("a whole number")) -> int:
    """A whole number given as int, NumPy integer, 0-d tensor or an integral float."""
    import numpy as np

    if isinstance(value, int) and not isinstance(value, bool):
        return int.__index__(value)
    if isinstance(value, np.integer):
        return int(value.item())
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point() \
            and value.dtype != torch.bool and not value.is_complex():
        return int(torch.Tensor.item(value.as_subclass(torch.Tensor)))
    x = number(value, what)
    if not (math.isfinite(x) and x.is_integer()):
        raise CheckFailed(_("Answer with {what}; {value!r} is not a whole number.").format(what=_(what), value=value))
    return int(x)


def tensor(value, what: str = N_("a tensor")) -> torch.Tensor:
    """A tensor, NumPy array, or (nested) list of numbers as a plain float64 tensor on the CPU."""
    import numpy as np

    if isinstance(value, torch.Tensor):
        t = value.as_subclass(torch.Tensor).detach().cpu()
    elif isinstance(value, np.ndarray) and value.dtype.kind in "iufb":
        t = torch.from_numpy(np.asarray(value, dtype=np.float64))
    elif isinstance(value, (list, tuple)):
        try:
            t = torch.tensor([number(v) if not isinstance(v, (list, tuple)) else tensor(v).tolist() for v in value],
                             dtype=torch.float64)
        except (CheckFailed, ValueError, TypeError):
            _refuse(value, what)
    else:
        _refuse(value, what)
    if t.dtype == torch.bool or t.is_complex():
        _refuse(value, what)
    return t.to(torch.float64)


def numbers_of(value, count: int, what: str) -> list[float]:
    """A sequence of exactly `count` numbers (a tuple, list, array or tensor), as floats."""
    if isinstance(value, torch.Tensor) or type(value).__module__ == "numpy":
        value = tensor(value, what).reshape(-1).tolist()
    if not isinstance(value, (list, tuple)):
        _refuse(value, what)
    expect(len(value) == count, _("Return {what}; you returned {value} values.").format(what=_(what), value=len(value)))
    return [number(v, what) for v in value]


def close(got: float, want: float, rel: float = 1e-4, abs_: float = 1e-12) -> bool:
    """True when two numbers agree to a tolerance that float32 arithmetic meets."""
    return math.isfinite(got) and abs(got - want) <= max(abs_, rel * abs(want))


def losses(fn: Callable, arg, steps: int, name: str) -> list[float]:
    """Call a learner's training function and check that it returned `steps` finite losses."""
    got = fn(arg)
    if isinstance(got, torch.Tensor) or type(got).__module__ == "numpy":
        got = tensor(got, _("a list of losses")).reshape(-1).tolist()
    if not isinstance(got, (list, tuple)):
        _refuse(got, _("a list of losses"))
    values = [number(v, _("a list of losses (numbers, e.g. loss.item())")) for v in got]
    expect(len(values) == steps, _("{name}: return the {steps} losses, one per step; you returned {values}.").format(name=name, steps=steps, values=len(values)))
    expect(all(math.isfinite(v) for v in values), _("{name}: some of your losses are not finite.").format(name=name))
    return values


def randomise_bn(module: nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-trivial statistics, scales and shifts, so its place and numbers matter."""
    for bn in (m for m in module.modules() if isinstance(m, nn.BatchNorm2d)):
        c = bn.num_features
        with torch.no_grad():
            bn.running_mean.copy_(torch.rand(c, generator=generator) * 2 - 1)
            bn.running_var.copy_(torch.rand(c, generator=generator) * 1.5 + 0.5)
            bn.weight.copy_(torch.rand(c, generator=generator) + 0.5)
            bn.bias.copy_(torch.rand(c, generator=generator) - 0.5)


def module_answer(obj, what: str) -> nn.Module:
    """The learner's module, refused with a message when it is not an nn.Module."""
    expect(isinstance(obj, nn.Module), _("{what} should be an nn.Module; you gave a value of type {name}.").format(what=_(what), name=type(obj).__name__))
    return obj


def forward(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run the learner's module on x (no grad) and return its output as a plain tensor."""
    with torch.no_grad():
        y = run(module, x)
    if y is Ellipsis or (y is None and _is_stub(type(module).forward)):
        raise _NotAttempted
    expect(y is not None, _("Your forward returned None: did you forget `return`?"))
    return tensor(y, _("a tensor from forward")).to(x.dtype)


def used_modules(module: nn.Module, x: torch.Tensor) -> set[str]:
    """Names of the submodules the learner's forward calls on x (found with forward hooks)."""
    called, hooks = set(), []
    for name, m in module.named_modules():
        if name:
            hooks.append(m.register_forward_hook(lambda mod, i, o, name=name: called.add(name)))
    try:
        forward(module, x)
    finally:
        for h in hooks:
            h.remove()
    return called


def same_losses(a, b, rel: float = 1e-3, atol: float = 1e-7) -> bool:
    """Two loss curves agree step by step, within `rel` of the reference `b` plus `atol`."""
    return all(abs(u - v) <= rel * abs(v) + atol for u, v in zip(a, b))
