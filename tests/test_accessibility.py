"""Colours colour-blind readers can tell apart, and alt text generated with every figure."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import course_lib  # noqa: E402,F401  (installs the colour cycle)
from course_lib import accessibility, plotting  # noqa: E402
from course_lib.accessibility import (MATPLOTLIB_DEFAULT, PALETTE, closest_pair, cvd_distance,  # noqa: E402
                                      figure_alt, png_alt)

APART = 15      # ΔE (CIE76) under simulated colour blindness; about 2 is just noticeable


def test_matplotlib_default_red_and_green_look_alike_to_a_deuteranope():
    """Why the course changes the cycle: C2 (green, residual) and C3 (red, plain)."""
    assert cvd_distance(MATPLOTLIB_DEFAULT[2], MATPLOTLIB_DEFAULT[3]) > 100            # far apart normally
    assert cvd_distance(MATPLOTLIB_DEFAULT[2], MATPLOTLIB_DEFAULT[3], "deuteranopia") < 10
    assert closest_pair(MATPLOTLIB_DEFAULT[:4])[0] < APART


def test_the_course_colours_stay_apart_for_colour_blind_readers():
    worst, a, b, vision = closest_pair(PALETTE[:4])           # C0–C3, the colours the notebooks name
    assert worst >= APART, (a, b, vision, worst)
    assert closest_pair(list(plotting.ARM_COLOURS.values()))[0] >= APART
    assert cvd_distance(PALETTE[0], PALETTE[0], "protanopia") == 0


def test_importing_the_course_sets_the_cycle():
    assert plt.rcParams["axes.prop_cycle"].by_key()["color"] == PALETTE
    _, ax = plt.subplots()
    line, = ax.plot([0, 1], color="C3")
    assert matplotlib.colors.to_hex(line.get_color()).lower() == PALETTE[3].lower()
    plt.close("all")


def test_figure_alt_says_titles_axes_and_legend():
    h = {"step": [1, 2, 3], "train_loss": [3, 2, 1], "train_acc": [0.1, 0.5, 0.9],
         "dev_step": [3], "dev_loss": [1.5], "dev_acc": [0.8]}
    axes = plotting.plot_history({"plain": h}, window=2, title="one run")
    alt = figure_alt(axes[0].figure)
    assert alt.startswith("one run. panel 1: loss; x: step; y: loss; legend: plain train, plain dev")
    assert "panel 2: accuracy; x: step; y: accuracy" in alt
    grid = plotting.show_images(torch.zeros(12, 1, 8, 8), labels=list(range(12)), preds=[0] * 12, title="digits")
    assert figure_alt(grid).startswith("digits. a grid of 12 images, titled 0 →0, 1 →0")
    from course_lib import diagrams
    assert "labels:" in figure_alt(diagrams.residual_block()) and "ReLU" in figure_alt(diagrams.residual_block())
    empty = plt.figure()
    assert figure_alt(empty)                                       # never empty
    assert len(figure_alt(plotting.plot_history({f"run number {i}": h for i in range(12)}, window=2)[0].figure)) <= 400
    plt.close("all")


def test_figure_to_png_carries_the_alt_text():
    fig, ax = plt.subplots()
    ax.set(title="error against depth ≤ 110", xlabel="depth", ylabel="error")
    png = plotting.figure_to_png(fig)
    assert png_alt(png) == "error against depth ≤ 110; x: depth; y: error"
    assert png_alt(b"not a png") is None


def test_saved_widget_pictures_get_alt_text_from_figure_and_readout():
    from course_lib.snapshot import picture_alt, snapshot_parts
    from course_lib.widgets import output_size_calculator

    parts = snapshot_parts(output_size_calculator(size=7, kernel=3, padding=1, stride=2))
    alts = [picture_alt(parts, i) for i, (kind, _) in enumerate(parts) if kind == "png"]
    assert len(alts) == 1
    assert alts[0].startswith("saved picture of the widget: Settings: in = 7, k = 3, p = 1, s = 2")   # the state first
    assert "in 7, k 3, p 1, s 2 → out 4" in alts[0]                                                     # then the figure


def test_ipython_figures_get_alt_text_in_their_metadata(tmp_path, monkeypatch):
    """As in a kernel: matplotlib-inline registers its PNG printer (again, on %matplotlib or
    %config), and the course wraps it as it is registered (and checks before and after every cell)."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    try:
        select_figure_formats(shell, {"png"})
        accessibility.install()
        fig, ax = plt.subplots()
        ax.set(title="loss", xlabel="step")
        data, md = shell.display_formatter.format(fig)
        assert "image/png" in data and md["image/png"] == {"alt": "loss; x: step"}
        select_figure_formats(shell, {"png"})                     # re-registered: wrapped as it registers
        assert shell.display_formatter.format(fig)[1]["image/png"]["alt"] == "loss; x: step"
        shell.events.trigger("pre_execute")
        assert shell.display_formatter.format(fig)[1]["image/png"]["alt"] == "loss; x: step"
    finally:
        plt.close("all")
        InteractiveShell.clear_instance()


def test_the_readme_states_the_measured_differences():
    from pathlib import Path

    visions = [None, "protanopia", "deuteranopia", "tritanopia"]
    measured = (round(cvd_distance(MATPLOTLIB_DEFAULT[2], MATPLOTLIB_DEFAULT[3], "deuteranopia")),
                round(min(cvd_distance(PALETTE[2], PALETTE[3], v) for v in visions)),
                round(closest_pair(PALETTE[:4])[0]))
    readme = " ".join((Path(course_lib.__file__).parents[1] / "README.md").read_text().split())
    assert (f"(colour difference ΔE {measured[0]} under simulation)" in readme
            and f"at least ΔE {measured[1]} apart" in readme and f"C0–C3 at least ΔE {measured[2]}" in readme), measured


@pytest.mark.parametrize("vision", ["protanopia", "deuteranopia", "tritanopia"])
def test_plain_and_residual_differ_for_every_vision(vision):
    assert cvd_distance(plotting.ARM_COLOURS["plain"], plotting.ARM_COLOURS["residual"], vision) >= APART


def test_a_kernel_saves_alt_text_with_every_figure(tmp_path, monkeypatch):
    """The same in a real kernel (matplotlib-inline, pyplot imported after the course)."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = new_notebook(cells=[
        new_code_cell("import course_lib\nimport matplotlib.pyplot as plt\n"
                      "fig, ax = plt.subplots(); ax.plot([1, 2], label='plain'); ax.legend(); ax.set(title='loss', xlabel='step')"),
        new_code_cell("%matplotlib inline\nplt.figure(); plt.suptitle('after %matplotlib'); plt.plot([0, 1])")])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    alts = [o["metadata"]["image/png"]["alt"] for c in nb.cells for o in c.outputs if "image/png" in o.get("data", {})]
    assert alts == ["loss; x: step; legend: plain", "after %matplotlib"]


def test_the_first_figure_shown_at_once_has_alt_text(tmp_path, monkeypatch):
    """pyplot imported before the course, and the first figure shown with plt.show() inside its cell:
    the inline backend registers its printer during that cell (notebooks 01, 05, 08, 09 and 10 lost the
    alt text of their first figure this way)."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = new_notebook(cells=[new_code_cell("import matplotlib.pyplot as plt\nimport course_lib"),
                             new_code_cell("fig, ax = plt.subplots(); ax.set_title('first'); plt.show()")])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells for o in c.outputs if "image/png" in o.get("data", {})]
    assert [o.get("metadata", {}).get("image/png", {}).get("alt") for o in outputs] == ["first"]
