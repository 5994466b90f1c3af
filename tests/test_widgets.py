import pytest
import numpy as np

from course_lib import widgets


def test_output_size_calculator_follows_sliders():
    calc = widgets.output_size_calculator(size=32, kernel=3, padding=1, stride=1)
    assert "<b>32</b>" in calc.readout.value
    first_png = calc.image.value
    calc.sliders["stride"].value = 2
    assert "<b>16</b>" in calc.readout.value and calc.image.value != first_png
    calc.sliders["size"].value = 2
    calc.sliders["kernel"].value = 7
    calc.sliders["padding"].value = 0
    assert "larger than the padded input" in calc.readout.value


def test_param_count_explorer():
    box = widgets.param_count_explorer(256, 4, "bottleneck")
    assert "69,632" in box.readout.value and "16.94×" in box.readout.value
    box.controls["block"].value = "basic"
    assert "<b>1,179,648</b>" in box.readout.value
    box.controls["channels"].value = 64
    assert "<b>73,728</b>" in box.readout.value


SWEEP = {"use_bn": True, "runs": [
    {"depth": 20, "arm": arm, "step": [1, 2, 3], "train_acc": [0.1, 0.5, acc], "final_train_error": 1 - acc}
    for arm, acc in (("plain", 0.8), ("residual", 0.9))]}


def test_depth_explorer_driven_from_python():
    box = widgets.depth_explorer(depth=20, use_residual=False, sweep=SWEEP)
    lines = box.state["lines"]
    assert len(lines["plain-20 (chosen)"]) == 20 and len(lines["residual-20 (twin)"]) == 20
    assert "plain-20" in box.readout.value and "plain 20.00%" in box.readout.value
    assert set(lines) >= {"plain-20", "residual-20"}                 # sweep curves at this depth
    png_before = box.figure.value

    box.controls["depth"].value = 56
    assert box.state["depth"] == 56
    assert len(box.state["lines"]["plain-56 (chosen)"]) == 56
    assert "no committed curves" not in box.readout.value and "plain-56" in box.readout.value
    assert box.figure.value != png_before

    chosen_plain = np.array(box.state["lines"]["plain-56 (chosen)"])
    box.controls["residual"].value = True
    assert "residual-56 (chosen)" in box.state["lines"] and "plain-56 (twin)" in box.state["lines"]
    assert np.allclose(box.state["lines"]["plain-56 (twin)"], chosen_plain)
    assert "residual-56" in box.readout.value

    box.controls["bn"].value = False
    assert "without BN" in box.readout.value and "no BN" in box.state["titles"][0]


def test_depth_explorer_train_now_and_refusal():
    from course_lib import explorer
    explorer.SPEED.record(3.4e-5, "the committed sweep's speed")      # refusals below need a known speed
    box = widgets.depth_explorer(depth=8, use_residual=True, sweep=None)
    box.controls["steps"].value = 10
    box.train_now(blocking=True)
    assert "done after 10 steps" in box.train_message.value
    assert box.progress.value == 10 and box.live.value[:4] == b"\x89PNG"
    box.controls["depth"].value = 110
    box.controls["steps"].value = 500
    assert box.controls["train"].disabled and "fewer steps" in box.train_message.value
    assert box.train_now() is False


def test_depth_explorer_stop_button_threaded():
    box = widgets.depth_explorer(depth=8, sweep=None)
    box.controls["steps"].value = 400
    assert box.train_now() is True
    assert box.train_now() is False                      # a second click while it runs starts nothing
    box.controls["depth"].value = 14                     # moving a control does not re-enable the button
    assert box.controls["train"].disabled
    assert box.train_message.value.startswith("training plain-8")   # and the status stays the run's
    assert box.run.started.wait(timeout=600)             # waits on an event, not on the clock
    box.controls["stop"].click()
    assert box.run.join(timeout=600)
    assert not box.run.running()
    assert "stopped after" in box.train_message.value
    assert len(box.state["train_history"]["step"]) < 400
    # the button comes back unless this machine's measured speed says the new setting (depth 14) is too slow
    from course_lib import explorer
    assert box.controls["train"].disabled == (explorer.train_now_verdict(14, 400)[0] == "refuse")


def test_stop_pressed_before_the_first_step_is_not_lost():
    box = widgets.depth_explorer(depth=8, sweep=None)
    box.controls["steps"].value = 400
    assert box.train_now() is True
    box.stop()                                           # while the data may still be loading
    assert box.run.join(timeout=600)
    assert "stopped after" in box.train_message.value
    assert len(box.state["train_history"]["step"]) <= 1


def test_handles_display_as_their_box():
    calc = widgets.output_size_calculator()
    assert calc._repr_mimebundle_() == calc.box._repr_mimebundle_()
    from course_lib.snapshot import snapshot_parts
    assert any(kind == "png" for kind, _ in snapshot_parts(calc))


def test_calculator_takes_224_and_refuses_out_of_range_values_instead_of_clamping():
    from traitlets import TraitError
    calc = widgets.output_size_calculator()
    calc.sliders["size"].value = 224
    calc.sliders["kernel"].value, calc.sliders["padding"].value, calc.sliders["stride"].value = 7, 3, 2
    assert calc.sliders["size"].value == 224 and "112" in calc.readout.value
    with pytest.raises(TraitError, match="outside this slider's range 1–256"):
        calc.sliders["size"].value = 300
    assert calc.sliders["size"].value == 224
