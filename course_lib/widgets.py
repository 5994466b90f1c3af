"""Interactive widgets: thin ipywidgets wiring around pure, tested functions.

Callbacks never print: they set widget values (an HTML readout, a PNG image), so the same
widgets work in JupyterLab, under nbval, and when tests set slider values from Python.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.patches as patches

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
        except ValueError:
            image.value = b""

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
