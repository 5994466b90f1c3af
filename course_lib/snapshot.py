"""A saved picture of a widget, for readers who see the notebook before running it.

A freshly cloned notebook is untrusted, and GitHub, nbviewer and a static site do not run a
kernel: there a live widget shows as `VBox(children=...)` text. `show(widget)` displays a
static snapshot first (a caption, the widget's readouts as text and its pictures as PNG), then
the live widget.
"""

from __future__ import annotations

import html
import re

CAPTION = ("*Saved picture of the widget below, as it first appeared when the notebook was run. "
           "Run the cell to get the live controls.*")


RESTART_NOTE = ("*If these controls stop responding, the kernel was restarted or stopped: live widgets "
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
    parts: list[tuple[str, object]] = [("markdown", CAPTION)]
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
            controls.append(f"{node.description} = {node.value}")
    if controls:
        parts.insert(1, ("markdown", "Settings: " + ", ".join(controls)))
    return parts


def picture_alt(parts: list[tuple[str, object]], index: int) -> str:
    """Alt text for the picture parts[index]: "saved picture of the widget: " what its figure
    shows (the PNG's "Description", written by `plotting.figure_to_png`), then the widget's
    settings and readouts, at most `accessibility.ALT_MAX` characters."""
    from .accessibility import ALT_MAX, png_alt

    texts = [" ".join(str(p).split()) for k, p in parts if k == "markdown" and p != CAPTION]
    said = [t for t in [png_alt(parts[index][1]), "; ".join(texts)] if t]
    alt = "saved picture of the widget: " + ". ".join(said) if said else "saved picture of the widget"
    return alt if len(alt) <= ALT_MAX else alt[:ALT_MAX - 1] + "…"


def show(widget) -> None:
    """Display the static snapshot of `widget` (its pictures with alt text), then the live widget."""
    from IPython.display import Image, Markdown, display

    parts = snapshot_parts(widget)
    for i, (kind, payload) in enumerate(parts):
        display(Image(payload, metadata={"alt": picture_alt(parts, i)}) if kind == "png" else Markdown(payload))
    display(widget)
    display(Markdown(RESTART_NOTE))
