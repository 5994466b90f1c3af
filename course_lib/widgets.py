"""Interactive widgets: thin ipywidgets wiring around pure, tested functions.

Callbacks never print: they set widget values (an HTML readout, a PNG image), so the same
widgets work in JupyterLab, under nbval, and when tests set slider values from Python.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.patches as patches

from . import models
from .plotting import figure_to_png


# ----------------------------------------------------------------- 03: output-size calculator
def conv_output_size(size: int, kernel: int, padding: int = 0, stride: int = 1) -> int:
    """⌊(size − kernel + 2·padding) / stride⌋ + 1, the output side of a convolution."""
    for name, v, low in (("size", size, 1), ("kernel", kernel, 1), ("padding", padding, 0), ("stride", stride, 1)):
        if not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
    if kernel > size + 2 * padding:
        raise ValueError(f"kernel {kernel} is larger than the padded input {size} + 2·{padding}")
    return (size - kernel + 2 * padding) // stride + 1


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
                                       edgecolor=colors[n], lw=2.5, label=f"output column {n}"))
    ax.set_xlim(-0.2, shown + 0.2)
    ax.set_ylim(-0.2, shown + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    clipped = " (first 16 cells shown)" if size + 2 * padding > max_side else ""
    ax.set_title(f"in {size}, k {kernel}, p {padding}, s {stride} → out {out}{clipped}", fontsize=10)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8, frameon=False)
    return fig


def output_size_text(size: int, kernel: int, padding: int, stride: int) -> str:
    """The readout of the calculator: the formula with the numbers filled in, or the error."""
    try:
        out = conv_output_size(size, kernel, padding, stride)
    except ValueError as err:
        return f"<b style='color:crimson'>{err}</b>"
    return (f"⌊({size} − {kernel} + 2·{padding}) / {stride}⌋ + 1 = "
            f"⌊{size - kernel + 2 * padding} / {stride}⌋ + 1 = <b>{out}</b>")


def output_size_calculator(size: int = 32, kernel: int = 3, padding: int = 1, stride: int = 1):
    """Sliders for in, k, p, s; a readout of the output size and a picture of the window."""
    import ipywidgets as w

    sliders = {
        "size": w.IntSlider(size, 1, 64, description="in"),
        "kernel": w.IntSlider(kernel, 1, 7, description="k"),
        "padding": w.IntSlider(padding, 0, 3, description="p"),
        "stride": w.IntSlider(stride, 1, 4, description="s"),
    }
    readout, image = w.HTML(), w.Image(format="png")

    def redraw(_=None):
        values = {k: s.value for k, s in sliders.items()}
        readout.value = output_size_text(**values)
        try:
            image.value = figure_to_png(sliding_window_figure(**values))
            image.layout.display = None
        except ValueError:                 # the readout explains; hide the stale picture
            image.layout.display = "none"

    for s in sliders.values():
        s.observe(redraw, names="value")
    redraw()
    box = w.VBox([w.HBox([w.VBox(list(sliders.values())), image]), readout])
    box.sliders, box.readout, box.image = sliders, readout, image
    return box


# ----------------------------------------------------------------- 04: parameter counts
def block_weight_count(block: str, in_channels: int, width: int, expansion: int = 4) -> int:
    """Convolution weights of one block with an identity shortcut (no BN, no bias).

    basic: two 3×3 convs, width → width (in_channels must equal width).
    bottleneck: 1×1 in→width, 3×3 width→width, 1×1 width→expansion·width.
    """
    if block == "basic":
        return 9 * in_channels * width + 9 * width * width
    if block == "bottleneck":
        return in_channels * width + 9 * width * width + width * expansion * width
    raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")


def param_count_text(block: str, channels: int, expansion: int) -> str:
    """Readout: both blocks at `channels` in/out channels, and the ratio."""
    width = channels // expansion if block == "bottleneck" else channels
    basic = block_weight_count("basic", channels, channels)
    bottleneck = block_weight_count("bottleneck", channels, channels // expansion, expansion)
    chosen = basic if block == "basic" else bottleneck
    return (f"{block} block, {channels} channels in and out (3×3 width {width}): <b>{chosen:,}</b> weights. "
            f"basic {basic:,} vs bottleneck {bottleneck:,}: ratio <b>{basic / bottleneck:.2f}×</b>")


def param_count_explorer(channels: int = 256, expansion: int = 4, block: str = "bottleneck"):
    """Choose the width, the expansion and the block type; see the weight count change."""
    import ipywidgets as w

    ch = w.SelectionSlider(options=[64, 128, 256, 512, 1024, 2048], value=channels, description="channels")
    ex = w.IntSlider(expansion, 1, 8, description="expansion")
    kind = w.ToggleButtons(options=["basic", "bottleneck"], value=block, description="block")
    readout = w.HTML()

    def redraw(_=None):
        readout.value = param_count_text(kind.value, ch.value, ex.value)

    for s in (ch, ex, kind):
        s.observe(redraw, names="value")
    redraw()
    box = w.VBox([ch, ex, kind, readout])
    box.controls, box.readout = {"channels": ch, "expansion": ex, "block": kind}, readout
    return box


# ----------------------------------------------------------------- 08: the depth explorer
DEPTH_OPTIONS = (8, 14, 20, 32, 44, 56, 110)
EXPLORER_SIZE = 16              # the sweep's image size (USPS-like 16×16 digits)
SECONDS_PER_IMAGE_LAYER = 3.4e-5  # measured on a 2-core CPU at 16×16 (plain-56: ~530 img/s)
WARN_SECONDS, REFUSE_SECONDS = 30, 90


def check_depth(depth: int) -> int:
    """Accept a depth of the CIFAR family (models.check_depth) within the explorer's range."""
    try:
        models.check_depth(depth)
        if depth > 110:
            raise ValueError
    except ValueError:
        raise ValueError(f"depth must be 6n+2 between 8 and 110 ({', '.join(map(str, DEPTH_OPTIONS))}, ...), "
                         f"got {depth!r}") from None
    return depth


def estimate_train_seconds(depth: int, num_steps: int, batch_size: int = 64) -> float:
    """Rough CPU time of a short run at 16×16, from a measured per-image, per-layer cost."""
    return num_steps * batch_size * depth * SECONDS_PER_IMAGE_LAYER


def train_now_verdict(depth: int, num_steps: int, batch_size: int = 64) -> tuple[str, str]:
    """("ok" | "warn" | "refuse", message) for a "train now" request."""
    check_depth(depth)
    est = estimate_train_seconds(depth, num_steps, batch_size)
    if est > REFUSE_SECONDS:
        return "refuse", (f"depth {depth} for {num_steps} steps would take about {est / 60:.0f} min on a "
                          f"CPU; choose fewer steps (at most ~{int(REFUSE_SECONDS / (batch_size * depth * SECONDS_PER_IMAGE_LAYER))}) "
                          "or a smaller depth, or run `python -m course_lib.experiments degradation`.")
    if est > WARN_SECONDS:
        return "warn", f"this run takes about {est:.0f} s on a CPU; the stop button ends it early."
    return "ok", ("under a second" if est < 1 else f"about {est:.0f} s")


_PROFILE_CACHE: dict = {}


def init_profile(depth: int, use_residual: bool, use_bn: bool = True, seed: int = 0,
                 batch_size: int = 32) -> dict:
    """Gradient norms per layer and activation statistics per block, at initialization, on a
    fixed batch of 16×16 MNIST digits. Cached: moving the slider back is instant."""
    from .analysis import activation_stats, gradient_norms
    from .config import seed_everything
    from .data import load_mnist
    from .models import cifar_resnet

    key = (check_depth(depth), bool(use_residual), bool(use_bn), seed, batch_size)
    if key not in _PROFILE_CACHE:
        data = load_mnist(batch_size, 8, 8, seed=seed, size=EXPLORER_SIZE)
        x, y = data.train.x, data.train.y
        seed_everything(seed)
        model = cifar_resnet(depth, use_residual=use_residual, use_bn=use_bn)
        names, norms = gradient_norms(model, x, y)
        stats = activation_stats(model, x)
        _PROFILE_CACHE[key] = {"layers": names, "grad_norm": norms, "block": stats["name"],
                               "act_mean": stats["mean"], "act_std": stats["std"]}
    return _PROFILE_CACHE[key]


def sweep_curves(sweep: dict | None, depth: int, window: int = 20) -> dict[str, tuple[list, list]]:
    """Smoothed training error against step for each arm at `depth`, from a degradation sweep
    (the mean over its seeds)."""
    from .plotting import sweep_error_curves

    curves = {}
    for arm in dict.fromkeys(r["arm"] for r in (sweep or {}).get("runs", [])):
        got = sweep_error_curves(sweep, arm, depth, window)
        if got is not None:
            curves[arm] = (list(got[0]), list(got[1]))
    return curves


def explorer_figure(depth: int, use_residual: bool, use_bn: bool, sweep: dict | None = None):
    """Three panels: gradient norms and activation spread at init (chosen net vs its twin), and
    the committed training curves at this depth (plain vs residual)."""
    me = init_profile(depth, use_residual, use_bn)
    twin = init_profile(depth, not use_residual, use_bn)
    name = lambda r: f"{'residual' if r else 'plain'}-{depth}"   # noqa: E731
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.7))
    axes[0].semilogy(me["grad_norm"], color="C0", lw=2, label=f"{name(use_residual)} (chosen)")
    axes[0].semilogy(twin["grad_norm"], color="C1", ls="--", label=f"{name(not use_residual)} (twin)")
    axes[0].set(xlabel="layer (input → output)", ylabel="‖∂loss/∂W‖",
                title=f"gradient norms at init, {'with' if use_bn else 'no'} BN")
    axes[1].semilogy(me["act_std"], "o-", color="C0", ms=3, label=name(use_residual))
    axes[1].semilogy(twin["act_std"], "s--", color="C1", ms=3, label=name(not use_residual))
    axes[1].set(xlabel="block (input → output)", ylabel="std of block output", title="activation spread at init")
    curves = sweep_curves(sweep, depth) if (sweep and sweep.get("use_bn", True) == use_bn) else {}
    if curves:
        for arm, color, style in (("plain", "C3", "-"), ("residual", "C2", "-"), ("residual-B", "C0", ":")):
            if arm in curves:
                axes[2].plot(*curves[arm], color=color, ls=style, label=f"{arm}-{depth}")
        axes[2].set(xlabel="step", ylabel="training error (smoothed)", title="committed sweep: training error",
                    ylim=(0, None))
    else:
        have = sorted({r["depth"] for r in (sweep or {}).get("runs", [])})
        why = ("the sweep was trained with BN" if sweep and sweep.get("use_bn", True) != use_bn
               else f"depth {depth} is not in the committed sweep {have}")
        axes[2].text(0.5, 0.5, f"no committed curves:\n{why}", ha="center", va="center",
                     transform=axes[2].transAxes, fontsize=9)
        axes[2].set(title="committed sweep: training error")
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
    text = (f"<b>{kind}-{depth}</b>, {'with' if use_bn else 'without'} BN: {depth} weighted layers; "
            f"first/last-layer gradient ratio <b>{ratio(me):.3g}</b> (twin {ratio(twin):.3g})")
    finals: dict[str, list[float]] = {}
    for r in (sweep or {}).get("runs", []):
        if r["depth"] == depth and (sweep or {}).get("use_bn", True) == use_bn:
            finals.setdefault(r["arm"], []).append(r["final_train_error"])
    if finals:
        n = max(map(len, finals.values()))
        text += (f"; sweep's final training error (mean of {n} seed{'s' if n > 1 else ''}) "
                 + ", ".join(f"{a} {sum(e) / len(e):.2%}" for a, e in sorted(finals.items())))
    return text


class _ImageCurve:
    """A LiveCurve that draws into an ipywidgets.Image (safe to update from a thread)."""

    def __init__(self, image, title: str) -> None:
        from .plotting import LiveCurve

        self.image, self.curve = image, LiveCurve(title=title)

    def update(self, history: dict) -> None:
        self.image.value = figure_to_png(self.curve.render(history))


def depth_explorer(depth: int = 20, use_residual: bool = False, use_bn: bool = True,
                   sweep: dict | str | None = "degradation"):
    """The depth explorer: a depth slider (6n+2), residual and BatchNorm toggles, instant
    at-initialization plots next to the twin, the committed sweep's curves, and "train now".

    Returns the widget box; `box.controls`, `box.readout`, `box.figure`, `box.state` and
    `box.train_now(blocking=True)` let tests drive it without a browser.
    """
    import threading

    import ipywidgets as w

    from .experiments import load_results, short_run
    from .models import cifar_resnet
    from .config import pick, seed_everything

    check_depth(depth)
    if isinstance(sweep, str):
        try:
            sweep = load_results(sweep)
        except FileNotFoundError:
            sweep = None
    slider = w.SelectionSlider(options=list(DEPTH_OPTIONS), value=depth, description="depth",
                               continuous_update=False, style={"description_width": "initial"})
    residual = w.ToggleButton(value=use_residual, description="residual", icon="link",
                              tooltip="switch the skip connections on or off")
    bn = w.ToggleButton(value=use_bn, description="BatchNorm", tooltip="BatchNorm after every convolution")
    steps = w.IntSlider(value=pick(150, 20), min=10, max=500, step=10, description="steps")
    readout, figure = w.HTML(), w.Image(format="png", layout=w.Layout(width="100%"))
    train_btn = w.Button(description="train now", icon="play", button_style="success")
    stop_btn = w.Button(description="stop", icon="stop", button_style="danger", disabled=True)
    progress = w.IntProgress(value=0, min=0, max=1, description="", layout=w.Layout(width="40%"))
    train_msg = w.HTML()
    live = w.Image(format="png", layout=w.Layout(display="none"))   # shown once training starts
    state: dict = {}
    box = w.VBox([w.HBox([slider, residual, bn]), readout, figure,
                  w.HBox([steps, train_btn, stop_btn, progress]), train_msg, live])

    def redraw(_=None):
        d, r, b = slider.value, residual.value, bn.value
        state.update(depth=d, use_residual=r, use_bn=b)
        try:
            readout.value = explorer_readout(d, r, b, sweep)
            fig = explorer_figure(d, r, b, sweep)
        except ValueError as err:
            readout.value = f"<b style='color:crimson'>{err}</b>"
            return
        state["lines"] = {ln.get_label(): ln.get_ydata() for ax in fig.axes for ln in ax.get_lines()}
        state["titles"] = [ax.get_title() for ax in fig.axes]
        figure.value = figure_to_png(fig)
        verdict, msg = train_now_verdict(d, steps.value)
        train_btn.disabled = verdict == "refuse" or running()      # never re-enabled during a run
        train_msg.value = (f"<b style='color:crimson'>{msg}</b>" if verdict == "refuse" else
                           f"<span style='color:#b36b00'>{msg}</span>" if verdict == "warn" else
                           f"train now: {msg}")

    def running() -> bool:
        thread = state.get("thread")
        return thread is not None and thread.is_alive()

    def run_training():
        d, r, b, n = slider.value, residual.value, bn.value, steps.value
        progress.max, progress.value = n, 0
        stop_btn.disabled, train_btn.disabled = False, True
        stop_event, started = state["stop_event"], state["started"]

        class Progress(_ImageCurve):
            def update(self, history):
                progress.value = len(history["step"])
                super().update(history)
                live.layout.display = None
                started.set()

        try:
            seed_everything(0)
            model = cifar_resnet(d, use_residual=r, use_bn=b)
            curve = Progress(live, f"{'residual' if r else 'plain'}-{d}, live training loss")
            hist = short_run(model, num_steps=n, progress=False, live_plot=curve,
                             should_stop=stop_event.is_set)
            state["train_history"] = hist
            stopped = stop_event.is_set()
            train_msg.value = (f"{'stopped' if stopped else 'done'} after {len(hist['step'])} steps; "
                               f"final loss {hist['train_loss'][-1]:.3f}")
        except Exception as err:       # show it in the widget: a thread's traceback would be lost
            train_msg.value = f"<b style='color:crimson'>training failed: {type(err).__name__}: {err}</b>"
            state["train_error"] = err
        finally:
            started.set()
            stop_btn.disabled = True
            train_btn.disabled = train_now_verdict(slider.value, steps.value)[0] == "refuse"

    def train_now(_=None, blocking: bool = False):
        verdict, msg = train_now_verdict(slider.value, steps.value)
        if verdict == "refuse":
            train_msg.value = f"<b style='color:crimson'>{msg}</b>"
            return None
        if running():                                   # one run at a time: a second click does nothing
            return None
        state["stop_event"], state["started"] = threading.Event(), threading.Event()
        if blocking:
            run_training()
            return None
        thread = threading.Thread(target=run_training, daemon=True)
        state["thread"] = thread
        thread.start()
        return thread

    def stop(_=None):
        event = state.get("stop_event")                 # reaches the active run, even while its data loads
        if event is not None:
            event.set()

    for control in (slider, residual, bn, steps):
        control.observe(redraw, names="value")
    train_btn.on_click(train_now)
    stop_btn.on_click(stop)
    redraw()
    box.controls = {"depth": slider, "residual": residual, "bn": bn, "steps": steps,
                    "train": train_btn, "stop": stop_btn}
    box.readout, box.figure, box.train_message, box.live, box.progress = readout, figure, train_msg, live, progress
    box.state, box.train_now, box.stop = state, train_now, stop
    return box
