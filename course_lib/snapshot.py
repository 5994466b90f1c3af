"""A saved picture of a widget, for readers who see the notebook before running it; each widget once.

GitHub, nbviewer, a static site and a notebook opened before its kernel runs cannot show a live
widget. `show(widget)` displays ONE output whose bundle holds both the live widget and a PNG
picture of it (a caption, the settings, the widget's pictures and readouts, with alt text): a
running JupyterLab renders the widget and nothing else, every other reader gets the picture.
`course_lib.tools.freeze` then removes the widget half from a saved notebook (and its saved
widget state), so that before anything runs, in JupyterLab trusted or not, the picture is all there
is: no dead copy drawn from stale state.
"""

from __future__ import annotations

from .i18n import N_, _

import base64
import html
import io
import json
import re
import sys
import textwrap
from pathlib import Path

WIDGET = "application/vnd.jupyter.widget-view+json"

CAPTION = N_("Saved picture of a widget, as it first appeared when the notebook was run. "
             "Run the cell to get the live controls.")


RESTART_NOTE = N_("*If these controls stop responding, the kernel was restarted or stopped: live widgets "
                  "need the kernel that made them. Run the notebook from the top (Run → Run All Cells).*")


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _hidden(widget) -> bool:
    layout = getattr(widget, "layout", None)
    return layout is not None and getattr(layout, "display", None) == "none"


def snapshot_parts(widget) -> list[tuple[str, object]]:
    """[("markdown", text) | ("png", bytes)]: what the static picture of `widget` holds, in order."""
    import ipywidgets as w

    widget = getattr(widget, "box", widget)          # a course widget handle, or a plain widget
    parts: list[tuple[str, object]] = [("markdown", _(CAPTION))]
    controls = []
    for node in _walk(widget):
        if _hidden(node):
            continue
        if isinstance(node, w.Image):
            if node.value:
                parts.append(("png", bytes(node.value)))
        elif isinstance(node, w.HTML):
            text = html.unescape(re.sub(r"<[^>]+>", "", node.value or "")).strip()
            if text:
                parts.append(("markdown", text))
        elif (isinstance(node, w.ValueWidget) and not isinstance(node, w.FileUpload)
              and getattr(node, "description", "")):
            value = (_("yes") if node.value else _("no")) if isinstance(node.value, bool) else node.value
            controls.append(f"{node.description} = {value}")
    if controls:
        parts.insert(1, ("markdown", _("Settings: {controls}").format(controls=", ".join(controls))))
    return parts


def picture(parts: list[tuple[str, object]], width: int = 1000) -> bytes:
    """The snapshot's parts as one PNG: text lines and pictures, top to bottom, on white."""
    from PIL import Image, ImageDraw

    from .fonts import pil_font
    from .i18n import language

    text = " ".join(str(p) for k, p in parts if k != "png")
    chinese = language() == "zh" or any("\u4e00" <= ch <= "\u9fff" for ch in text)
    font = pil_font(15, chinese)                      # DejaVu Sans has no Chinese glyphs
    blocks = []
    for kind, payload in parts:
        if kind == "png":
            img = Image.open(io.BytesIO(payload)).convert("RGB")
            if img.width > width:
                img = img.resize((width, round(img.height * width / img.width)))
            blocks.append(img)
        else:
            wrap = 60 if chinese else 110                # a Chinese character is about two Latin letters wide
            lines = [w for para in str(payload).strip("*").splitlines() for w in textwrap.wrap(para, wrap) or [""]]
            img = Image.new("RGB", (width, 22 * len(lines) + 8), "white")
            draw = ImageDraw.Draw(img)
            for i, line in enumerate(lines):
                draw.text((8, 4 + 22 * i), line, fill=(20, 20, 20), font=font)
            blocks.append(img)
    canvas = Image.new("RGB", (width, sum(b.height for b in blocks) + 4 * len(blocks)), "white")
    y = 0
    for b in blocks:
        canvas.paste(b, (0, y))
        y += b.height + 4
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def picture_alt(parts: list[tuple[str, object]], index: int) -> str:
    """Alt text for the picture parts[index]: "saved picture of the widget: " what its figure
    shows (the PNG's "Description", written by `plotting.figure_to_png`), then the widget's
    settings and readouts, at most `accessibility.ALT_MAX` characters."""
    return alt_text(parts, [index])


def alt_text(parts: list[tuple[str, object]], pictures: list[int] | None = None) -> str:
    """Alt text for the snapshot (or for some of its pictures): the widget's settings and readouts,
    then what its figures show, at most `accessibility.ALT_MAX` characters."""
    from .accessibility import ALT_MAX, png_alt

    if pictures is None:
        pictures = [i for i, (kind, _unused) in enumerate(parts) if kind == "png"]
    texts = [" ".join(str(p).split()) for k, p in parts if k == "markdown" and p not in (CAPTION, _(CAPTION))]
    said = [t for t in ["; ".join(texts), *(png_alt(parts[i][1]) for i in pictures)] if t]   # the state first
    alt = (_("saved picture of the widget: {content}").format(content=". ".join(said)) if said else
           _("saved picture of the widget"))
    return alt if len(alt) <= ALT_MAX else alt[:ALT_MAX - 1] + "…"


def bundle(widget) -> tuple[dict, dict]:
    """(data, metadata) of the one output that `show` displays: the live widget and its picture."""
    live = getattr(widget, "box", widget)
    parts = snapshot_parts(widget)
    data = dict(live._repr_mimebundle_())
    data["image/png"] = base64.b64encode(picture(parts)).decode()
    return data, {"image/png": {"alt": alt_text(parts)}}


def show(widget) -> None:
    """Display `widget` once: live in a running notebook, as its saved picture everywhere else."""
    from IPython.display import Markdown, display

    data, metadata = bundle(widget)
    display(data, raw=True, metadata=metadata)
    display(Markdown(_(RESTART_NOTE)))
