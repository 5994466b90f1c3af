"""The depth explorer's logic, without widgets: profiles at initialisation, verdicts, figures,
and `BackgroundRun`, which trains in a thread, one run at a time, with a stop that always
reaches the active run (also from a kernel interrupt). `widgets.depth_explorer` wires them up.
"""

from __future__ import annotations

from .i18n import N_, _

import math
import signal
import threading
import time
import warnings
import weakref
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

from . import models
from .analysis import activation_stats, gradient_norms
from .config import seed_everything
from .data import load_mnist
from .experiments import SECONDS_PER_IMAGE_LAYER      # measured at 16×16 on a 2-core CPU
from .plotting import has_levelled_off, sweep_error_curves
from .stats import chance_level

DEPTH_OPTIONS = (8, 14, 20, 32, 44, 56, 110)
EXPLORER_SIZE = 16              # the sweep's image size (USPS-like 16×16 digits)
WARN_SECONDS, REFUSE_SECONDS = 30, 90


def check_depth(depth: int) -> int:
    """`models.check_depth` (6n + 2), and at most 110, the deepest net the explorer offers."""
    models.check_depth(depth)
    if depth > max(DEPTH_OPTIONS):
        raise ValueError(_("the explorer goes up to depth {DEPTH_OPTIONS}, got {depth}").format(DEPTH_OPTIONS=max(DEPTH_OPTIONS), depth=depth))
    return depth


class SpeedMeter:
    """This machine's training speed right now, in seconds per image and layer at 16×16.

    Measured, not looked up: two timed SGD steps of a depth-20 net (after one warm-up step), at
    most once every `max_age` seconds, so an estimate follows what else the machine is doing; a
    finished live run replaces it with its own measured speed. Before anything is measured, the
    committed sweep's speed (`SECONDS_PER_IMAGE_LAYER`, 2-core CPU) stands in, and says so.
    """

    def __init__(self, max_age: float = 60.0):
        self.max_age, self.rate, self.when, self.source = max_age, None, 0.0, "not measured"

    def measure(self, depth: int = 20, batch_size: int = 64, steps: int = 2) -> float:
        import torch
        seed_everything(0)
        model = models.cifar_resnet(depth)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x, y = torch.randn(batch_size, 1, EXPLORER_SIZE, EXPLORER_SIZE), torch.randint(0, 10, (batch_size,))
        for i in range(steps + 1):
            if i == 1:
                start = time.perf_counter()
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        self.record((time.perf_counter() - start) / (steps * batch_size * depth), N_("measured just now on this machine"))
        return self.rate

    def record(self, rate: float, source: str) -> None:
        self.rate, self.when, self.source = rate, time.monotonic(), source

    def current(self) -> tuple[float, str]:
        """(seconds per image and layer, where that number comes from), measuring when stale."""
        if self.rate is None or time.monotonic() - self.when > self.max_age:
            try:
                self.measure()
            except Exception:                          # never let a measurement break the widget
                return SECONDS_PER_IMAGE_LAYER, N_("the committed sweep's speed on a 2-core CPU")
        return self.rate, self.source


SPEED = SpeedMeter()


def estimate_train_seconds(depth: int, num_steps: int, batch_size: int = 64, rate: float | None = None) -> float:
    """Time of a short run at 16×16: steps × images × layers × this machine's measured cost."""
    return num_steps * batch_size * depth * (SPEED.current()[0] if rate is None else rate)


def train_now_verdict(depth: int, num_steps: int, batch_size: int = 64, rate: float | None = None) -> tuple[str, str]:
    """("ok" | "warn" | "refuse", message) for a "train now" request, from the measured speed."""
    check_depth(depth)
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(_("num_steps must be a whole number of steps, 1 or more; got {steps!r}").format(steps=num_steps))
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(_("batch_size must be a whole number, 1 or more; got {value!r}").format(value=batch_size))
    if rate is not None and not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        raise ValueError(_("rate must be a positive number of seconds per image-layer; got {value!r}").format(value=rate))
    rate, source = (rate, N_("given")) if rate is not None else SPEED.current()
    source = _(source)
    est = estimate_train_seconds(depth, num_steps, batch_size, rate)
    if est > REFUSE_SECONDS:
        return "refuse", _("depth {depth} for {steps} steps would take about {minutes:.0f} min at this machine's speed "
                           "({source}); choose fewer steps (at most ~{most}) or a smaller depth, or run "
                           "`python -m course_lib degradation`.").format(
            depth=depth, steps=num_steps, minutes=est / 60, source=source,
            most=int(REFUSE_SECONDS / (batch_size * depth * rate)))
    if est > WARN_SECONDS:
        return "warn", _("this run takes about {seconds:.0f} s at this machine's speed ({source}); the stop button ends "
                         "it early.").format(seconds=est, source=source)
    return "ok", _("{time} ({source})").format(
        time=_("under a second") if est < 1 else _("about {seconds:.0f} s").format(seconds=est), source=source)


def run_status(label: str, done: int, total: int, seconds: float) -> str:
    """The status line of a run in progress: steps done and the time left, from this run's own speed."""
    if done == 0:
        return _("training {label}: starting ({total} steps)").format(label=label, total=total)
    left = seconds / done * (total - done)
    return _("training {label}: step {done} of {total}, {seconds:.0f} s so far, about {left:.0f} s left (from this "
             "run's speed)").format(label=label, done=done, total=total, seconds=seconds, left=left)


_PROFILE_CACHE: dict = {}


def init_profile(depth: int, use_residual: bool, use_bn: bool = True, seed: int = 0,
                 batch_size: int = 32) -> dict:
    """Gradient norms per layer and activation statistics per block, at initialization, on a
    fixed batch of 16×16 MNIST digits. Cached: moving the slider back is instant."""
    key = (check_depth(depth), bool(use_residual), bool(use_bn), seed, batch_size)
    if key not in _PROFILE_CACHE:
        data = load_mnist(batch_size, 8, 8, seed=seed, size=EXPLORER_SIZE)
        x, y = data.train.x, data.train.y
        seed_everything(seed)
        model = models.cifar_resnet(depth, use_residual=use_residual, use_bn=use_bn)
        names, norms = gradient_norms(model, x, y)
        stats = activation_stats(model, x)
        _PROFILE_CACHE[key] = {"layers": names, "grad_norm": norms, "block": stats["name"],
                               "act_mean": stats["mean"], "act_std": stats["std"]}
    return _PROFILE_CACHE[key]


def check_sweep(sweep: dict | None, name: str = "the sweep") -> dict | None:
    """`sweep` if it is a degradation sweep (runs with arm, depth and final_train_error), else a
    ValueError that says what it is instead."""
    if sweep is None:
        return None
    runs = sweep.get("runs") if isinstance(sweep, dict) else None
    need = ("arm", "depth", "final_train_error", "step", "train_acc")     # what the explorer reads
    if not isinstance(runs, list) or not all(isinstance(r, dict) and all(k in r for k in need) for r in runs):
        what = sweep.get("experiment", "no 'experiment' entry") if isinstance(sweep, dict) else type(sweep).__name__
        raise ValueError(_("{name} is not a degradation sweep ({what}); the explorer needs the output of `python -m course_lib degradation`, e.g. load_results('degradation')").format(name=name, what=what))
    return sweep


def sweep_curves(sweep: dict | None, depth: int, window: int = 20) -> dict[str, tuple[list, list]]:
    """Smoothed training error against step for each arm at `depth`, from a degradation sweep
    (the mean over its seeds)."""
    curves = {}
    for arm in dict.fromkeys(r["arm"] for r in (sweep or {}).get("runs", [])):
        got = sweep_error_curves(sweep, arm, depth, window)
        if got is not None:
            curves[arm] = (list(got[0]), list(got[1]))
    return curves


def sweep_budget(sweep: dict | None, depth: int) -> str:
    """The budget behind the committed curves at `depth`, and which arms had not levelled off by
    its end (`plotting.has_levelled_off`), e.g. "320 steps, cosine to 0; plain-56 had not levelled off"."""
    runs = [r for r in (sweep or {}).get("runs", []) if r["depth"] == depth]
    if not runs:
        return ""
    cfg = sweep.get("config", {})
    steps = max(len(r["step"]) for r in runs)
    text = (_("{steps} steps, cosine to 0") if cfg.get("schedule") == "cosine" else
            _("{steps} steps, constant learning rate")).format(steps=steps)
    not_done = []
    for arm in dict.fromkeys(r["arm"] for r in runs):
        arm_runs = [r for r in runs if r["arm"] == arm and "epoch_end" in r and len(r["epoch_end"]) >= 3]
        if arm_runs and not has_levelled_off(arm_runs)[0]:
            not_done.append(f"{arm}-{depth}")
    if not_done:
        text += _("; {names} had not levelled off").format(names=", ".join(not_done))
    return text


_CHANCE: dict = {}


def sweep_chance(sweep: dict) -> list[dict]:
    """`stats.chance_level` of each seed's training split of a degradation sweep (the digits are
    not balanced, so chance is not 90%)."""
    key = (tuple(sweep["seeds"]), sweep["num_train"], sweep["size"])
    if key not in _CHANCE:
        from .experiments import preset
        n_eval = preset("degradation").num_eval if sweep["num_train"] == preset("degradation").num_train else 1000
        _CHANCE[key] = [chance_level(load_mnist(sweep["num_train"], n_eval, n_eval, seed=s, size=sweep["size"]).train.y, 10)
                        for s in sweep["seeds"]]
    return _CHANCE[key]


def explorer_figure(depth: int, use_residual: bool, use_bn: bool, sweep: dict | None = None):
    """Three panels: gradient norms and activation spread at init (chosen net vs its twin), and
    the committed training curves at this depth (plain vs residual)."""
    me = init_profile(depth, use_residual, use_bn)
    twin = init_profile(depth, not use_residual, use_bn)
    name = lambda r: f"{'residual' if r else 'plain'}-{depth}"   # noqa: E731
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.7))
    axes[0].semilogy(me["grad_norm"], color="C0", lw=2, label=_("{name} (chosen)").format(name=name(use_residual)))
    axes[0].semilogy(twin["grad_norm"], color="C1", ls="--",
                     label=_("{name} (twin)").format(name=name(not use_residual)))
    axes[0].set(xlabel=_("layer (input → output)"), ylabel="‖∂loss/∂W‖",
                title=_("gradient norms at init, with BN") if use_bn else _("gradient norms at init, no BN"))
    axes[1].semilogy(me["act_std"], "o-", color="C0", ms=3, label=name(use_residual))
    axes[1].semilogy(twin["act_std"], "s--", color="C1", ms=3, label=name(not use_residual))
    axes[1].set(xlabel=_("block (input → output)"), ylabel=_("std of block output"),
                title=_("activation spread at init"))
    curves = sweep_curves(sweep, depth) if (sweep and sweep.get("use_bn", True) == use_bn) else {}
    if curves:
        for arm, color, style in (("plain", "C3", "-"), ("residual", "C2", "-"), ("residual-B", "C0", ":")):
            if arm in curves:
                axes[2].plot(*curves[arm], color=color, ls=style, label=f"{arm}-{depth}")
        axes[2].set(xlabel=_("step"), ylabel=_("training error (smoothed)"), ylim=(0, None),
                    title=_("committed sweep: training error\n({budget})").format(budget=sweep_budget(sweep, depth)))
        axes[2].title.set_fontsize(9)
    else:
        have = sorted({r["depth"] for r in (sweep or {}).get("runs", [])})
        why = (_("the sweep was trained with BN") if sweep and sweep.get("use_bn", True) != use_bn
               else _("depth {depth} is not in the committed sweep {have}").format(depth=depth, have=have))
        axes[2].text(0.5, 0.5, _("no committed curves:\n{why}").format(why=why), ha="center", va="center",
                     transform=axes[2].transAxes, fontsize=9)
        axes[2].set(title=_("committed sweep: training error"))
        axes[2].set_xticks([]); axes[2].set_yticks([])
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def explorer_readout(depth: int, use_residual: bool, use_bn: bool, sweep: dict | None = None) -> str:
    """One line of numbers for the chosen configuration and its twin."""
    me, twin = init_profile(depth, use_residual, use_bn), init_profile(depth, not use_residual, use_bn)
    ratio = lambda p: p["grad_norm"][0] / p["grad_norm"][-1]   # noqa: E731
    kind = "residual" if use_residual else "plain"
    text = (_("<b>{name}</b>, with BN: {depth} weighted layers; first/last-layer gradient ratio <b>{ratio:.3g}</b> "
              "(twin {twin:.3g})") if use_bn else
            _("<b>{name}</b>, without BN: {depth} weighted layers; first/last-layer gradient ratio <b>{ratio:.3g}</b> "
              "(twin {twin:.3g})")).format(name=f"{kind}-{depth}", depth=depth, ratio=ratio(me), twin=ratio(twin))
    finals: dict[str, list[float]] = {}
    for r in (sweep or {}).get("runs", []):
        if r["depth"] == depth and (sweep or {}).get("use_bn", True) == use_bn:
            finals.setdefault(r["arm"], []).append(r["final_train_error"])
    if finals:
        n = max(map(len, finals.values()))
        text += ((_("; sweep's final training error (mean of {n} seeds) ") if n > 1 else
                  _("; sweep's final training error (mean of {n} seed) ")).format(n=n)
                 + ", ".join(f"{a} {sum(e) / len(e):.2%}" for a, e in sorted(finals.items())))
        text += _(" ({budget})").format(budget=sweep_budget(sweep, depth))
        if "num_train" in sweep and "seeds" in sweep:
            chance = sweep_chance(sweep)
            text += _("; always answering the most common digit gives {e:.2%}").format(
                e=sum(c["majority_error"] for c in chance) / len(chance))
    return text


# ----------------------------------------------------------------------------- background runs
_ACTIVE: "weakref.WeakSet[BackgroundRun]" = weakref.WeakSet()
_PREVIOUS_SIGINT = None
# One training per kernel, whatever starts it (a click, `train_now`, a blocking run, another
# explorer after a cell re-run): every BackgroundRun takes this lock for its whole run.
_ONE_RUN = threading.Lock()


def interrupt_all() -> int:
    """Ask every running BackgroundRun to stop; returns how many were running."""
    runs = [r for r in list(_ACTIVE) if r.running()]
    for r in runs:
        r.stop()
    return len(runs)


def _on_sigint(signum, frame):
    interrupt_all()                            # a kernel interrupt stops background training too
    previous = _PREVIOUS_SIGINT
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        raise KeyboardInterrupt


def _install_sigint_hook() -> bool:
    """Chain `_on_sigint` before the SIGINT handler in force while the kernel is idle (once;
    main thread only). ipykernel swaps in its own handler while it handles a message and puts
    back `kernel.saved_sigint_handler` afterwards, so that is where the hook goes in a kernel."""
    global _PREVIOUS_SIGINT
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        from IPython import get_ipython
        kernel = getattr(get_ipython(), "kernel", None)
    except ImportError:
        kernel = None
    if kernel is not None and hasattr(kernel, "saved_sigint_handler"):
        if kernel.saved_sigint_handler is not _on_sigint:
            _PREVIOUS_SIGINT = kernel.saved_sigint_handler
            kernel.saved_sigint_handler = _on_sigint
        return True
    current = signal.getsignal(signal.SIGINT)
    if current is not _on_sigint:
        _PREVIOUS_SIGINT = current
        signal.signal(signal.SIGINT, _on_sigint)
    return True


class BackgroundRun:
    """Runs `work(should_stop, on_log)` in a daemon thread, one run at a time.

    `should_stop()` becomes True after `stop()` (or a kernel interrupt); `on_log(history)` records
    progress. `started` is set at the first progress report (or when the run ends), `finished`
    when it ends. The outcome is `result` or `error`; `stopped` says whether a stop was asked for.
    """

    def __init__(self, on_progress: Callable[[dict], None] | None = None,
                 on_done: Callable[["BackgroundRun"], None] | None = None) -> None:
        self.on_progress, self.on_done = on_progress, on_done
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.started, self.finished = threading.Event(), threading.Event()
        self.result, self.error, self.steps_done = None, None, 0

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self.finished.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> bool:
        """Ask the run to stop at its next step; True when a run was active. Before any start() it is
        a no-op that says so (a stop is not kept for a later run: that run would end at once)."""
        if self._thread is None:
            warnings.warn(_("stop() before start(): no run has started, so there is nothing to stop"),
                          RuntimeWarning, stacklevel=2)
            return False
        self._stop.set()
        return self.running()

    def _log(self, history: dict) -> None:
        self.steps_done = len(history.get("step", ()))
        if self.on_progress is not None:
            self.on_progress(history)
        self.started.set()

    def _target(self, work) -> None:
        finished = self.finished               # this run's event (on_done may start the next run)
        try:
            self.result = work(self._stop.is_set, self._log)
        except BaseException as err:           # kept for the caller: a thread's traceback is lost
            self.error = err                   # (SystemExit and KeyboardInterrupt too: never neither)
        finally:
            _ONE_RUN.release()                 # before on_done, which may start the next run
            self.started.set()
            try:
                if self.on_done is not None:
                    self.on_done(self)
            finally:
                finished.set()                 # after on_done: join() returns with the outcome shown

    def start(self, work: Callable[[Callable[[], bool], Callable[[dict], None]], object],
              blocking: bool = False) -> bool:
        """Start `work`; False (and nothing happens) while any run of this kernel is active."""
        if not _ONE_RUN.acquire(blocking=False):
            return False
        try:
            self._stop, self.started, self.finished = threading.Event(), threading.Event(), threading.Event()
            self.result, self.error, self.steps_done = None, None, 0
            _ACTIVE.add(self)
            _install_sigint_hook()
            if not blocking:
                self._thread = threading.Thread(target=self._target, args=(work,), daemon=True)
                self._thread.start()
        except BaseException:
            _ONE_RUN.release()
            raise
        if blocking:
            self._thread = threading.current_thread()
            self._target(work)
        return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end (at most `timeout` seconds); True when it has ended."""
        if self._thread is None:
            raise RuntimeError(_("join() before start(): no run has started, so there is nothing to wait for"))
        return self.finished.wait(timeout)
