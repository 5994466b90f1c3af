"""Interactive widgets: thin ipywidgets wiring around pure, tested functions.

Callbacks never print: they set widget values (an HTML readout, a PNG image), so the same
widgets work in JupyterLab, under nbval, and when tests set slider values from Python. Each
builder returns a small handle: `handle.box` is what is displayed (the handle displays itself),
and the handle's other fields are the controls and readouts that tests drive.
"""

from __future__ import annotations

from .i18n import N_, _

import time
from dataclasses import dataclass, field
from typing import Callable

import ipywidgets as w
from traitlets import TraitError, validate

from . import explorer as ex
from .analysis import output_size_text, param_count_text
from .config import seed_everything
from .experiments import load_results, preset, short_run
from .models import cifar_resnet
from .plotting import LiveCurve, figure_to_png, sliding_window_figure
from .predict import (ImageInputError, open_image, photo_figure, photo_samples, plot_prediction,
                      preprocess, top_k)


class StrictIntSlider(w.IntSlider):
    """An IntSlider that refuses a value outside its range with a clear message, instead of
    silently clamping it (ipywidgets' default: 224 set from code would show 64)."""

    @validate("value")
    def _validate_value(self, proposal):
        value = proposal["value"]
        if not self.min <= value <= self.max:
            raise TraitError(_("{description} = {value} is outside this slider's range {min}–{max}; choose a value inside it").format(description=self.description, value=value, min=self.min, max=self.max))
        return value


class _Handle:
    """Displays as its `box`."""

    box: w.Box

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


# ----------------------------------------------------------------- 03: output-size calculator
@dataclass
class Calculator(_Handle):
    box: w.Box
    sliders: dict
    readout: w.HTML
    image: w.Image


def output_size_calculator(size: int = 32, kernel: int = 3, padding: int = 1, stride: int = 1) -> Calculator:
    """Sliders for in, k, p, s; a readout of the output size and a picture of the window."""
    sliders = {
        "size": StrictIntSlider(size, 1, 256, description="in"),       # 224: an ImageNet input fits
        "kernel": StrictIntSlider(kernel, 1, 7, description="k"),
        "padding": StrictIntSlider(padding, 0, 3, description="p"),
        "stride": StrictIntSlider(stride, 1, 4, description="s"),
    }
    readout, image = w.HTML(), w.Image(format="png")

    def redraw(_event=None):
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
    return Calculator(box, sliders, readout, image)


# ----------------------------------------------------------------- 04: parameter counts
@dataclass
class ParamCounter(_Handle):
    box: w.Box
    controls: dict
    readout: w.HTML


def param_count_explorer(channels: int = 256, expansion: int = 4, block: str = "bottleneck") -> ParamCounter:
    """Choose the width, the expansion and the block type; see the weight count change."""
    ch = w.SelectionSlider(options=[64, 128, 256, 512, 1024, 2048], value=channels, description=_("channels"))
    expand = w.IntSlider(expansion, 1, 8, description=_("expansion"))
    kind = w.ToggleButtons(options=["basic", "bottleneck"], value=block, description=_("block"))
    readout = w.HTML()

    def redraw(_event=None):
        readout.value = param_count_text(kind.value, ch.value, expand.value)

    for s in (ch, expand, kind):
        s.observe(redraw, names="value")
    redraw()
    return ParamCounter(w.VBox([ch, expand, kind, readout]), {"channels": ch, "expansion": expand, "block": kind},
                        readout)


# ----------------------------------------------------------------- 08: the depth explorer
@dataclass
class DepthExplorer(_Handle):
    box: w.Box
    controls: dict
    readout: w.HTML
    figure: w.Image
    train_message: w.HTML
    live: w.Image
    progress: w.IntProgress
    run: ex.BackgroundRun
    state: dict = field(default_factory=dict)
    train_now: Callable = None
    stop: Callable = None


def depth_explorer(depth: int = 20, use_residual: bool = False, use_bn: bool = True,
                   sweep: dict | str | None = "degradation") -> DepthExplorer:
    """The depth explorer: a depth slider (6n+2), residual and BatchNorm toggles, instant
    at-initialization plots next to the twin, the committed sweep's curves, and "train now"
    (one run at a time, in the background; "stop" or a kernel interrupt ends it)."""
    ex.check_depth(depth)
    if isinstance(sweep, str):
        try:
            sweep = ex.check_sweep(load_results(sweep), repr(sweep))
        except FileNotFoundError:
            sweep = None
    else:
        sweep = ex.check_sweep(sweep, "the sweep passed in")
    slider = w.SelectionSlider(options=list(ex.DEPTH_OPTIONS), value=depth, description=_("depth"),
                               continuous_update=False, style={"description_width": "initial"})
    residual = w.ToggleButton(value=use_residual, description=_("residual"), icon="link",
                              tooltip=_("switch the skip connections on or off"))
    bn = w.ToggleButton(value=use_bn, description=_("BatchNorm"), tooltip=_("BatchNorm after every convolution"))
    steps = w.IntSlider(value=preset("short-run").steps, min=10, max=500, step=10, description=_("steps"))
    readout, figure = w.HTML(), w.Image(format="png", layout=w.Layout(width="100%"))
    train_btn = w.Button(description=_("train now"), icon="play", button_style="success")
    stop_btn = w.Button(description=_("stop"), icon="stop", button_style="danger", disabled=True)
    progress = w.IntProgress(value=0, min=0, max=1, description="", layout=w.Layout(width="40%"))
    train_msg = w.HTML()
    live = w.Image(format="png", layout=w.Layout(display="none"))   # shown once training starts
    box = w.VBox([w.HBox([slider, residual, bn]), readout, figure,
                  w.HBox([steps, train_btn, stop_btn, progress]), train_msg, live])
    curve = LiveCurve()

    started = {"at": 0.0, "label": ""}

    def on_progress(history: dict) -> None:
        progress.value = len(history["step"])
        live.value = figure_to_png(curve.render(history))
        live.layout.display = None
        train_msg.value = ex.run_status(started["label"], progress.value, progress.max,
                                        time.monotonic() - started["at"])

    def on_done(run: ex.BackgroundRun) -> None:
        if run.error is not None:
            train_msg.value = _("<b style='color:crimson'>training failed: {name}: {error}</b>").format(name=type(run.error).__name__, error=run.error)
        else:
            hist = run.result
            handle.state["train_history"] = hist
            seconds = time.monotonic() - started["at"]
            if len(hist["step"]) >= 10:           # a run stopped at once measures its start-up, not its speed
                ex.SPEED.record(seconds / (len(hist["step"]) * 64 * started["depth"]), N_("measured on your last run"))
            loss = (_("; final loss {loss:.3f}").format(loss=hist["train_loss"][-1]) if hist["train_loss"] else "")
            train_msg.value = _("{outcome} after {steps} steps in {seconds:.0f} s").format(
                outcome=_("stopped") if run.stopped else _("done"), steps=len(hist["step"]), seconds=seconds) + loss
        stop_btn.disabled = True
        train_btn.disabled = ex.train_now_verdict(slider.value, steps.value)[0] == "refuse"

    run = ex.BackgroundRun(on_progress, on_done)

    def redraw(_event=None):
        d, r, b = slider.value, residual.value, bn.value
        handle.state.update(depth=d, use_residual=r, use_bn=b)
        try:
            readout.value = ex.explorer_readout(d, r, b, sweep)
            fig = ex.explorer_figure(d, r, b, sweep)
        except ValueError as err:
            readout.value = _("<b style='color:crimson'>{err}</b>").format(err=err)
            return
        handle.state["lines"] = {ln.get_label(): ln.get_ydata() for ax in fig.axes for ln in ax.get_lines()}
        handle.state["titles"] = [ax.get_title() for ax in fig.axes]
        figure.value = figure_to_png(fig)
        if run.running():             # the status line belongs to the run in progress, and so does the button
            train_btn.disabled = True
            return
        verdict, msg = ex.train_now_verdict(d, steps.value)
        train_btn.disabled = verdict == "refuse"
        train_msg.value = (_("<b style='color:crimson'>{msg}</b>").format(msg=msg) if verdict == "refuse" else
                           _("<span style='color:#b36b00'>{msg}</span>").format(msg=msg) if verdict == "warn" else
                           _("train now: {msg}").format(msg=msg))

    def train_now(_event=None, blocking: bool = False) -> bool:
        d, r, b, n = slider.value, residual.value, bn.value, steps.value
        verdict, msg = ex.train_now_verdict(d, n)
        if verdict == "refuse":
            train_msg.value = _("<b style='color:crimson'>{msg}</b>").format(msg=msg)
            return False
        if run.running():                               # one run at a time: a second click does nothing
            return False
        before = (progress.max, progress.value, stop_btn.disabled, train_btn.disabled, train_msg.value)
        progress.max, progress.value = n, 0
        stop_btn.disabled, train_btn.disabled = False, True
        curve.title = _("{name}, live training loss").format(name=f"{'residual' if r else 'plain'}-{d}")
        started.update(at=time.monotonic(), label=f"{'residual' if r else 'plain'}-{d}", depth=d)
        train_msg.value = ex.run_status(started["label"], 0, n, 0.0)

        def work(should_stop, on_log):
            seed_everything(0)
            model = cifar_resnet(d, use_residual=r, use_bn=b)
            return short_run(model, num_steps=n, progress=False, on_log=on_log, should_stop=should_stop)

        if run.start(work, blocking=blocking):
            return True
        # Another training of this kernel is running (an earlier explorer, after a cell re-run?).
        progress.max, progress.value, stop_btn.disabled, train_btn.disabled, _unused = before
        train_msg.value = (_("<b style='color:crimson'>another training is running in this kernel (an earlier explorer?): stop it or wait for it to end, then train again</b>"))
        return False

    handle = DepthExplorer(box, {"depth": slider, "residual": residual, "bn": bn, "steps": steps,
                                 "train": train_btn, "stop": stop_btn},
                           readout, figure, train_msg, live, progress, run, train_now=train_now, stop=run.stop)
    for control in (slider, residual, bn, steps):
        control.observe(redraw, names="value")
    train_btn.on_click(train_now)
    stop_btn.on_click(lambda _button: run.stop())       # reaches the active run, even while its data loads
    redraw()
    return handle


# ----------------------------------------------------------------- 09: predict your own image
@dataclass
class Predictor(_Handle):
    box: w.Box
    upload: w.FileUpload
    choice: w.Dropdown
    message: w.HTML
    image: w.Image
    state: dict
    show: Callable


def _file_predictor(render, samples: dict[str, bytes] | None, what: str, default: str | None = None) -> Predictor:
    """A FileUpload and a choice of samples, wired to `render(name, bytes) -> (html, figure, top)`;
    unreadable files give a message, never a traceback."""
    upload = w.FileUpload(accept="image/*", multiple=False, description=_("upload {what}").format(what=_(what)))
    choice = w.Dropdown(options=[_("(choose a sample)")] + sorted(samples or {}), description=_("or a sample"))
    message, image = w.HTML(), w.Image(format="png")
    state: dict = {}

    def show(name: str, data: bytes) -> None:
        try:
            html, fig, top = render(name, data)
        except ImageInputError as err:
            message.value = _("<b style='color:crimson'>{name}: {err}</b>").format(name=name, err=err)
            image.value = b""
            state.update(error=str(err), top=None)
            return
        state.update(error=None, top=top)
        message.value = html
        image.value = figure_to_png(fig)

    def on_upload(change) -> None:
        files = change["new"]
        if files:
            f = files[0]
            show(f["name"], bytes(f["content"]))

    def on_choice(change) -> None:
        if samples and change["new"] in samples:
            show(change["new"], samples[change["new"]])

    upload.observe(on_upload, names="value")
    choice.observe(on_choice, names="value")
    handle = Predictor(w.VBox([w.HBox([upload, choice]), message, image]), upload, choice, message, image,
                       state, show)
    if default is not None:
        choice.value = default
    return handle


def upload_predictor(model, samples: dict[str, bytes] | None = None) -> Predictor:
    """Upload a photo or drawing of one digit (or pick a sample): the MNIST-style input and the top 3."""
    def render(name: str, data: bytes):
        x = preprocess(data)
        top = top_k(model, x)
        return (f"{name}: predicted <b>{top[0][0]}</b> ({top[0][1]:.1%})",
                plot_prediction(x, top, title=name), top)

    return _file_predictor(render, samples, N_("a digit"))


def photo_predictor(net, samples: dict[str, bytes] | None = None) -> Predictor:
    """Upload any photo (or pick a sample): the ImageNet top-5 of `net` (a `Pretrained`) and the
    224×224 crop it sees. Starts with the first sample (Grace Hopper by default)."""
    samples = samples if samples is not None else photo_samples()

    def render(name: str, data: bytes):
        fig, top = photo_figure(net, open_image(data), title=name)
        return f"{name}: <b>{top[0][0]}</b> ({top[0][1]:.1%})", fig, top

    return _file_predictor(render, samples, N_("a photo"), default=next(iter(samples), None))
