"""Figures every reader can use: colours that stay apart for colour-blind readers, and alt text.

- `PALETTE` is the Okabe–Ito palette, made the course's colour cycle (C0, C1, …) by `install()`,
  which `import course_lib` runs. Matplotlib's default cycle puts green (C2) next to red (C3),
  the pair the course uses for residual and plain, and those two look alike to a deuteranope
  (`cvd_distance` measures it; tests/test_accessibility.py checks both cycles).
- `figure_alt(fig)` describes a figure from what it shows: its titles, axis labels, legend
  entries, or the words of a diagram. Inside IPython, `install()` attaches it to every
  matplotlib figure a notebook displays, as the output metadata `{"image/png": {"alt": ...}}`;
  `plotting.figure_to_png` writes it into the PNG (its "Description" text), where
  `png_alt` finds it again, e.g. for a widget's saved picture.
"""

from __future__ import annotations

import io
import re

import numpy as np

from .i18n import _

# Okabe & Ito (2008), "Color Universal Design": blue, orange, bluish green, vermillion,
# reddish purple, sky blue, yellow, black. C2 and C3 keep the roles of matplotlib's green and red.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MATPLOTLIB_DEFAULT = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB.
_CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
ALT_MAX = 400


# ----------------------------------------------------------------------------- colours
def _linear_rgb(colour: str) -> np.ndarray:
    c = np.array([int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def cvd_distance(a: str, b: str, vision: str | None = None) -> float:
    """CIE76 colour difference ΔE between two hex colours as seen with `vision` (None: normal,
    or a key of the simulation matrices: protanopia, deuteranopia, tritanopia). About 2 is
    just noticeable; lines of colours closer than about 15 are hard to tell apart."""
    la, lb = _linear_rgb(a), _linear_rgb(b)
    if vision is not None:
        m = np.array(_CVD[vision])
        la, lb = np.clip(m @ la, 0, 1), np.clip(m @ lb, 0, 1)
    return float(np.linalg.norm(_lab(la) - _lab(lb)))


def closest_pair(colours: list[str]) -> tuple[float, str, str, str]:
    """(ΔE, colour, colour, vision) of the two colours hardest to tell apart, over all visions."""
    worst = (float("inf"), "", "", "")
    for i, a in enumerate(colours):
        for b in colours[i + 1:]:
            for vision in [None, *_CVD]:
                d = cvd_distance(a, b, vision)
                if d < worst[0]:
                    worst = (d, a, b, vision or "normal")
    return worst


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two hex colours (4.5 is the minimum for normal text)."""
    def luminance(c):
        return float(np.array([0.2126, 0.7152, 0.0722]) @ _linear_rgb(c))
    hi, lo = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def use_course_colours() -> None:
    """Make PALETTE matplotlib's colour cycle (what "C0", "C1", … and unnamed lines use)."""
    import matplotlib
    from cycler import cycler

    matplotlib.rcParams["axes.prop_cycle"] = cycler(color=PALETTE)


# ----------------------------------------------------------------------------- alt text
def _clean(text: str) -> str:
    text = re.sub(r"\$([^$]*)\$", r"\1", text or "")          # mathtext: keep what is between the $
    return " ".join(text.replace("\\", "").split())


def _shorten(text: str, limit: int = ALT_MAX) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip(" ,;") + "…"


def _axes_alt(ax) -> str:
    bits = []
    title = next((_clean(ax.get_title(loc)) for loc in ("center", "left", "right") if ax.get_title(loc)), "")
    if title:
        bits.append(title)
    axis = "; ".join(_("{axis}: {label}").format(axis=name, label=label)
                     for name, label in (("x", _clean(ax.get_xlabel())), ("y", _clean(ax.get_ylabel()))) if label)
    if axis:
        bits.append(axis)
    legend = ax.get_legend()
    entries = [_clean(t.get_text()) for t in legend.get_texts()] if legend else []
    if entries:
        bits.append(_("legend: {entries}").format(entries=", ".join(e for e in entries[:10] if e)))
    words = list(dict.fromkeys(_clean(t.get_text()) for t in ax.texts if _clean(t.get_text())))
    if words:
        bits.append(_("labels: {words}").format(words=", ".join(words[:12]) + (", …" if len(words) > 12 else "")))
    if not bits and ax.images:
        bits.append(_("an image"))
    return "; ".join(bits)


def _has_content(ax) -> bool:
    return bool(ax.images or ax.lines or ax.texts or ax.patches or ax.collections or ax.get_title())


def figure_alt(fig) -> str:
    """Alt text for a matplotlib figure: "<suptitle>. <panel>. <panel>…", each panel as
    "<title>; x: <xlabel>; y: <ylabel>; legend: …" (or a diagram's words), at most ALT_MAX
    characters. Never empty."""
    sup = getattr(fig, "_suptitle", None)
    head = _clean(sup.get_text()) if sup is not None else ""
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>" and _has_content(ax)]
    panels = [_axes_alt(ax) for ax in axes]
    image_grid = len(axes) > 4 and all(ax.images and not ax.get_xlabel() and not ax.get_ylabel() for ax in axes)
    if image_grid:
        titles = [p for p in panels if p and p != _("an image")]
        n = sum(1 for ax in axes if ax.images)
        body = (_("a grid of {n} images, titled {titles}").format(
                    n=n, titles=", ".join(titles[:12]) + (", …" if len(titles) > 12 else ""))
                if titles else _("a grid of {n} images").format(n=n))
        panels = [body]
    panels = [p for p in panels if p]
    if len(panels) > 1 and not image_grid:
        panels = [_("panel {i}: {panel}").format(i=i, panel=p) for i, p in enumerate(panels, start=1)]
    text = ". ".join([head, *panels] if head else panels)
    return _shorten(text) if text else _("a figure with {n} unlabelled panel(s)").format(n=len(axes))


def png_alt(png: bytes) -> str | None:
    """The alt text `plotting.figure_to_png` wrote into a PNG (its "Description"), or None."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as image:
            return (getattr(image, "text", {}) or {}).get("Description") or None
    except Exception:             # not a PNG we can read: no alt text from it
        return None


# ----------------------------------------------------------------------------- IPython
def _with_alt(printer):
    def formatter(fig):
        data = printer(fig)
        return None if data is None else (data, {"alt": figure_alt(fig)})
    formatter.course_alt = True
    formatter.__wrapped__ = printer
    return formatter


def _wrap_future_printers(png) -> None:
    """Wrap the printer matplotlib-inline registers for figures *when* it registers it: the inline
    backend starts with the first figure, and a `plt.show()` in that cell displays the figure at once,
    before any cell hook could wrap the printer (that first figure had no alt text)."""
    register = png.for_type

    def for_type(typ, func=None):
        if func is not None and getattr(typ, "__name__", "") == "Figure" \
                and getattr(typ, "__module__", "") == "matplotlib.figure" and not getattr(func, "course_alt", False):
            func = _with_alt(func)
        return register(typ, func)
    for_type.course_alt = True
    png.for_type = for_type


def attach_alt_text(shell) -> bool:
    """Wrap the shell's PNG printer for matplotlib figures so that it adds alt text; True if
    it is (now) wrapped. matplotlib-inline registers its printer when pyplot is first imported
    and again on some `%matplotlib` or `%config InlineBackend` calls, so `install()` calls this
    before and after every cell."""
    import sys

    png = shell.display_formatter.formatters.get("image/png")
    if png is not None and not getattr(png.for_type, "course_alt", False):
        _wrap_future_printers(png)
    if "matplotlib.figure" not in sys.modules:      # nothing to wrap until matplotlib is in use
        return False
    from matplotlib.figure import Figure

    try:
        printer = png.lookup_by_type(Figure)
    except (KeyError, AttributeError):
        return False
    if not getattr(printer, "course_alt", False):
        png.for_type(Figure, _with_alt(printer))
    return True


def install() -> None:
    """The course's colour cycle, a font with Chinese glyphs as DejaVu Sans's fallback (see
    `course_lib.fonts`), and (inside IPython) alt text on every displayed figure."""
    from .fonts import use_cjk_font
    from .i18n import language

    use_course_colours()
    if language() == "zh":            # reading a CJK font takes a fifth of a second: only where it is needed
        use_cjk_font()
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "_course_alt_text", False):
        return
    shell._course_alt_text = True
    for event in ("pre_execute", "post_execute"):     # ours runs before matplotlib-inline's flush
        shell.events.register(event, lambda: attach_alt_text(shell))
    attach_alt_text(shell)
