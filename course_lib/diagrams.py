"""Drawn figures of the course (matplotlib): versioned, tested, offline.

Every number written on a diagram is computed here from the course's own code (weight counts
from `analysis.block_weight_count`, shapes from a forward pass), never typed in.
"""

from __future__ import annotations

import matplotlib.patches as patches
import matplotlib.pyplot as plt

from .analysis import block_weight_count, trace_shapes
from .i18n import N_, _
from .models import resnet18

_BOX = {"conv": "#dbe9f6", "bn": "#fde9c9", "relu": "#e3f1dd", "add": "#ffffff", "io": "#eeeeee",
        "pool": "#eadcf1", "fc": "#f6dada", "shared": "#dbe9f6", "region": "#fde9c9"}


def _box(ax, x: float, y: float, text: str, kind: str = "conv", w: float = 2.2, h: float = 0.55,
         fontsize: int = 9) -> tuple[float, float]:
    ax.add_patch(patches.FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03",
                                        facecolor=_BOX.get(kind, "white"), edgecolor="#555555", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return x, y


def _add(ax, x: float, y: float, r: float = 0.2) -> None:
    ax.add_patch(patches.Circle((x, y), r, facecolor="white", edgecolor="#555555", lw=1.2))
    ax.text(x, y, "+", ha="center", va="center", fontsize=12)


def _arrow(ax, x0, y0, x1, y1, text: str = "", color: str = "#333333", rad: float = 0.0, fontsize: int = 8) -> None:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops={"arrowstyle": "->", "color": color, "lw": 1.3,
                            "connectionstyle": f"arc3,rad={rad}"})
    if text:
        ax.text((x0 + x1) / 2 + (0.15 if not rad else 1.1 * rad), (y0 + y1) / 2, text, fontsize=fontsize,
                color=color, ha="left", va="center")


def _canvas(width: float, height: float, xlim, ylim, title: str = ""):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return fig, ax


def _residual_column(ax, x: float, layers: list[tuple[str, str]], shortcut: str | None, relu_after_add: bool = True,
                     top: float = 7.0, step: float = 0.85, shortcut_label: str = N_("identity: x")) -> None:
    """Input at the top, `layers` downwards, then (+ shortcut) and the output."""
    y = top
    _box(ax, x, y, "x", "io", w=1.0)
    prev = y
    for text, kind in layers:
        y -= step
        _arrow(ax, x, prev - 0.28, x, y + 0.28)
        _box(ax, x, y, text, kind)
        prev = y
    if shortcut is not None:
        y -= step
        _arrow(ax, x, prev - 0.28, x, y + 0.2)
        _add(ax, x, y)
        side = x + 1.6
        ax.plot([x + 0.5, side, side], [top, top, y], color="#c0392b", lw=1.4)
        _arrow(ax, side, y, x + 0.2, y, color="#c0392b")
        ax.text(side + 0.1, (top + y) / 2, _(shortcut_label), color="#c0392b", fontsize=8, rotation=90,
                ha="left", va="center")
        prev = y + 0.08
        ax.text(x - 0.35, y + 0.35, "F(x) + x" if shortcut == "identity" else "F(x) + W_s·x", fontsize=8,
                ha="right")
    if relu_after_add:
        y -= step
        _arrow(ax, x, prev - 0.28, x, y + 0.28)
        _box(ax, x, y, "ReLU", "relu")
        prev = y
    y -= step
    _arrow(ax, x, prev - 0.28, x, y + 0.28)
    _box(ax, x, y, _("output"), "io", w=1.4)


def residual_block(shortcut: str = "identity"):
    """The paper's Fig. 2: two weight layers F(x) and a shortcut; identity or 1×1 projection."""
    if shortcut not in ("identity", "projection"):
        raise ValueError(_("shortcut must be 'identity' or 'projection', got {shortcut!r}").format(shortcut=shortcut))
    fig, ax = _canvas(4.2, 6.2, (-2.2, 3.6), (-0.2, 7.5),
                      _("residual block, identity shortcut (He et al. 2016, Fig. 2)") if shortcut == "identity" else
                      _("residual block, projection shortcut (He et al. 2016, Fig. 2)"))
    layers = [(_("3×3 conv"), "conv"), ("BN", "bn"), ("ReLU", "relu"), (_("3×3 conv"), "conv"), ("BN", "bn")]
    label = N_("identity: x") if shortcut == "identity" else N_("projection: 1×1 conv + BN, stride 2")
    _residual_column(ax, 0, layers, shortcut, shortcut_label=label)
    ax.text(-1.4, 5.0, "F(x)", fontsize=10, color="#1f4e79", ha="right")
    return fig


def plain_vs_residual():
    """The plain block next to its residual twin: the same layers, one skip apart."""
    fig, ax = _canvas(6.4, 6.4, (-2.0, 7.6), (-0.6, 7.5), _("plain block (use_residual=False) vs residual block"))
    layers = [(_("3×3 conv"), "conv"), ("BN", "bn"), ("ReLU", "relu"), (_("3×3 conv"), "conv"), ("BN", "bn")]
    _residual_column(ax, 0, layers, None)
    _residual_column(ax, 4.6, layers, "identity")
    ax.text(0, -0.4, _("H(x) learned directly"), ha="center", fontsize=8)
    ax.text(4.6, -0.4, "H(x) = F(x) + x", ha="center", fontsize=8)
    return fig


def preact_block():
    """The pre-activation block (He et al. 2016b, Fig. 4e): BN and ReLU before each conv, and
    nothing after the addition, so the shortcut path is a pure identity from block to block."""
    fig, ax = _canvas(4.2, 6.2, (-2.2, 3.6), (-0.2, 7.5), _("pre-activation block (He et al. 2016b, Fig. 4e)"))
    layers = [("BN", "bn"), ("ReLU", "relu"), (_("3×3 conv"), "conv"), ("BN", "bn"), ("ReLU", "relu"),
              (_("3×3 conv"), "conv")]
    _residual_column(ax, 0, layers, "identity", relu_after_add=False, step=0.8)
    return fig


def basic_vs_bottleneck(channels: int = 256, expansion: int = 4, counts: bool = True):
    """The paper's Fig. 5 for `channels` in and out, with the weights of each layer written on it
    (`counts=False`: the layers only, for a notebook that asks the learner to count them first)."""
    width = channels // expansion
    basic = [("3×3, {c}→{c}".format(c=channels), 9 * channels * channels),
             ("3×3, {c}→{c}".format(c=channels), 9 * channels * channels)]
    bottle = [(f"1×1, {channels}→{width}", channels * width), (f"3×3, {width}→{width}", 9 * width * width),
              (f"1×1, {width}→{channels}", width * channels)]
    assert sum(n for _unused, n in basic) == block_weight_count("basic", channels, channels)
    assert sum(n for _unused, n in bottle) == block_weight_count("bottleneck", channels, width, expansion)
    fig, ax = _canvas(7.2, 4.6, (-2.4, 9.0), (0.6, 6.4),
                      _("basic vs bottleneck, both {channels} channels in and out (after He et al. 2016, Fig. 5)").format(
                          channels=channels))
    for x, rows, name in ((0.6, basic, _("basic")), (5.8, bottle, _("bottleneck"))):
        y = 5.4
        _box(ax, x, y, _("{channels}-d in").format(channels=channels), "io", w=1.6)
        for text, n in rows:
            _arrow(ax, x, y - 0.28, x, y - 0.62)
            y -= 0.9
            _box(ax, x, y, text, "conv", w=2.3)
            if counts:
                ax.text(x + 1.3, y, _("{n:,} weights").format(n=n), fontsize=8, va="center")
        _arrow(ax, x, y - 0.28, x, y - 0.62)
        y -= 0.9
        _box(ax, x, y, _("{channels}-d out").format(channels=channels), "io", w=1.6)
        total = sum(n for _unused, n in rows)
        ax.text(x, 0.8, _("{name}: {total:,} weights").format(name=name, total=total) if counts else name,
                ha="center", fontsize=9, weight="bold")
    return fig


def shortcut_options():
    """Shortcut options A and B (He et al. 2016, §3.3) and C (§4.1, Table 3) at a stage boundary
    (64 → 128 channels, stride 2) and inside a stage (128 → 128)."""
    fig, ax = _canvas(9.0, 3.6, (-0.5, 13.0), (0.0, 4.6), _("shortcut options (He et al. 2016: A and B in §3.3, C in §4.1)"))
    options = [("A", N_("every 2nd pixel of x,\nplus 64 zero channels"), N_("identity"), N_("no extra weights")),
               ("B", N_("1×1 conv, stride 2 (projection)"), N_("identity"), N_("projections only where the shape changes")),
               ("C", N_("1×1 conv, stride 2 (projection)"), N_("1×1 conv (projection)"), N_("projections everywhere"))]
    for i, (name, boundary, inside, note) in enumerate(options):
        x = 0.2 + i * 4.4
        ax.text(x + 1.9, 4.2, _("option {name}").format(name=name), ha="center", fontsize=10, weight="bold")
        _box(ax, x + 1.9, 3.2, _("64→128, stride 2:\n{boundary}").format(boundary=_(boundary)),
             "conv" if name != "A" else "io", w=4.1, h=1.0, fontsize=7)
        _box(ax, x + 1.9, 2.0, _("128→128:\n{inside}").format(inside=_(inside)),
             "io" if inside == "identity" else "conv", w=4.1, h=0.85, fontsize=7)
        ax.text(x + 1.9, 0.9, _(note), ha="center", fontsize=8, style="italic")
    return fig


def resnet18_stages():
    """ResNet-18's stages with their output shapes at 224×224 and at 32×32 (traced)."""
    model = resnet18()
    rows = {}
    for size in (224, 32):
        shapes = {name: shape for name, _unused, shape in trace_shapes(model, (3, size, size))}
        rows[size] = shapes
    names = ["stem", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    labels = [_("stem: 7×7 conv s2\n+ max-pool s2"), _("layer1\n2 basic blocks"),
              *(_("{layer}\n2 blocks, s2").format(layer=layer) for layer in ("layer2", "layer3", "layer4")),
              _("global\navg pool"), "fc"]
    kinds = ["conv", "conv", "conv", "conv", "conv", "pool", "fc"]
    fig, ax = _canvas(11.0, 3.3, (-1.0, 14.2), (0.2, 3.9), _("ResNet-18's stages: output shapes at 224×224 and at 32×32"))
    ax.text(-0.9, 1.45, "224:", fontsize=8, ha="left")
    ax.text(-0.9, 0.75, "32:", fontsize=8, ha="left")
    for i, (name, label, kind) in enumerate(zip(names, labels, kinds)):
        x = 0.9 + i * 2.0
        _box(ax, x, 2.7, label, kind, w=1.8, h=0.9, fontsize=7)
        if i:
            _arrow(ax, x - 1.1, 2.7, x - 0.9, 2.7)
        for y, size in ((1.45, 224), (0.75, 32)):
            shape = rows[size][name][1:]
            ax.text(x, y, "×".join(map(str, shape)), ha="center", fontsize=7)
    return fig


def faster_rcnn_c4():
    """Faster R-CNN on ResNet-101 (He et al. 2016, Appendix A): conv1–conv4_x once per image,
    RoI pooling, conv5_x once per region."""
    fig, ax = _canvas(10.0, 3.2, (-0.3, 15.2), (0.3, 3.9),
                      _("Faster R-CNN with ResNet-101, split at C4 (He et al. 2016, Appendix A; the shapes from seed 003)"))
    _box(ax, 0.8, 2.4, _("image"), "io", w=1.3)
    _arrow(ax, 1.5, 2.4, 2.0, 2.4)
    _box(ax, 3.7, 2.4, _("conv1 … conv4_x\n(shared, stride 16)"), "shared", w=3.2, h=0.9, fontsize=8)
    _arrow(ax, 5.35, 2.4, 5.9, 2.4)
    _box(ax, 6.9, 3.2, _("RPN: proposals"), "pool", w=2.0, h=0.6, fontsize=8)
    _box(ax, 6.9, 1.7, _("RoI pooling\n14×14×1024"), "pool", w=2.0, h=0.8, fontsize=8)
    _arrow(ax, 6.9, 2.9, 6.9, 2.15)
    _arrow(ax, 7.95, 1.7, 8.6, 1.7)
    _box(ax, 10.1, 1.7, _("conv5_x per region\n→ 7×7×2048"), "region", w=2.8, h=0.8, fontsize=8)
    _arrow(ax, 11.55, 1.7, 12.2, 1.7)
    _box(ax, 13.5, 1.7, _("avg pool → class\n+ box regression"), "fc", w=2.4, h=0.8, fontsize=8)
    ax.text(3.7, 1.4, _("once per image"), ha="center", fontsize=8, style="italic")
    ax.text(10.1, 0.9, _("once per region"), ha="center", fontsize=8, style="italic")
    return fig


ALL = {"residual_block": residual_block, "plain_vs_residual": plain_vs_residual, "preact_block": preact_block,
       "basic_vs_bottleneck": basic_vs_bottleneck, "shortcut_options": shortcut_options,
       "resnet18_stages": resnet18_stages, "faster_rcnn_c4": faster_rcnn_c4}

