"""course_lib.explorer: the depth explorer's logic and BackgroundRun, without widgets."""

import signal
import threading

import pytest

from course_lib import explorer


@pytest.mark.parametrize("depth", [7, 21, 116, 2.5, True])
def test_check_depth_rejects(depth):
    with pytest.raises(ValueError, match="6n\\+2|up to depth 110"):
        explorer.check_depth(depth)


def test_train_now_verdicts():
    rate = 3.4e-5                                   # the committed sweep's speed, 2-core CPU
    assert explorer.train_now_verdict(8, 20, rate=rate)[0] == "ok"
    assert explorer.train_now_verdict(110, 150, rate=rate)[0] == "warn"
    verdict, msg = explorer.train_now_verdict(110, 500, rate=rate)
    assert verdict == "refuse" and "fewer steps" in msg
    assert explorer.train_now_verdict(110, 500, rate=rate / 10)[0] == "ok"       # a machine 10× faster


def test_the_speed_is_measured_on_this_machine_and_follows_the_last_run():
    meter = explorer.SpeedMeter(max_age=3600)
    rate, source = meter.current()
    assert 0 < rate < 1e-2 and source == "measured just now on this machine"
    meter.record(2 * rate, "measured on your last run")
    assert meter.current() == (2 * rate, "measured on your last run")
    assert explorer.estimate_train_seconds(20, 100, 64, rate=1e-5) == pytest.approx(1.28)


def test_run_status_gives_the_time_left_from_the_run_itself():
    assert "starting (150 steps)" in explorer.run_status("plain-56", 0, 150, 0.0)
    text = explorer.run_status("plain-56", 50, 150, 10.0)
    assert "step 50 of 150" in text and "about 20 s left" in text




def test_background_run_one_at_a_time_and_stop():
    release = threading.Event()

    def work(should_stop, on_log):
        step = 0
        while not should_stop():
            step += 1
            on_log({"step": list(range(step))})
            release.wait(0.01)
        return step

    seen = []
    run = explorer.BackgroundRun(on_progress=lambda h: seen.append(len(h["step"])))
    assert run.start(work) is True
    assert run.start(work) is False                 # one run at a time
    assert run.started.wait(60) and run.running()
    run.stop()
    assert run.join(60) and not run.running()
    assert run.stopped and run.result >= 1 and run.steps_done == run.result and seen


def test_background_run_reports_errors_and_restarts():
    run = explorer.BackgroundRun()

    def broken(should_stop, on_log):
        raise RuntimeError("out of memory")

    assert run.start(broken, blocking=True)
    assert isinstance(run.error, RuntimeError) and run.finished.is_set() and run.started.is_set()
    assert run.start(lambda s, log: 42, blocking=True) and run.result == 42 and run.error is None


def test_a_kernel_interrupt_stops_background_runs(monkeypatch):
    hold = threading.Event()
    run = explorer.BackgroundRun()
    run.start(lambda should_stop, on_log: hold.wait(60) or should_stop())
    assert signal.getsignal(signal.SIGINT) is explorer._on_sigint
    called = []
    monkeypatch.setattr(explorer, "_PREVIOUS_SIGINT", lambda signum, frame: called.append(signum))
    explorer._on_sigint(signal.SIGINT, None)
    assert run.stopped and called == [signal.SIGINT]           # and the previous handler still runs
    monkeypatch.setattr(explorer, "_PREVIOUS_SIGINT", signal.SIG_DFL)
    with pytest.raises(KeyboardInterrupt):                     # the default handler's behaviour is kept
        explorer._on_sigint(signal.SIGINT, None)
    hold.set()
    assert run.join(60) and run.result is True


def test_in_a_kernel_the_hook_is_what_ipykernel_restores_when_idle(monkeypatch):
    """ipykernel puts back `kernel.saved_sigint_handler` after each message: the hook goes there."""
    import IPython

    class Kernel:
        saved_sigint_handler = signal.SIG_IGN            # what ipykernel uses while idle

    class Shell:
        kernel = Kernel()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    monkeypatch.setattr(explorer, "_PREVIOUS_SIGINT", None)
    assert explorer._install_sigint_hook()
    assert Shell.kernel.saved_sigint_handler is explorer._on_sigint
    assert explorer._PREVIOUS_SIGINT is signal.SIG_IGN
    hold = threading.Event()
    run = explorer.BackgroundRun()
    run.start(lambda should_stop, on_log: hold.wait(60) or should_stop())
    explorer._on_sigint(signal.SIGINT, None)             # idle kernel: ignored, but the run stops
    assert run.stopped
    hold.set()
    assert run.join(60)


def test_the_explorer_states_the_budget_and_the_chance_behind_the_committed_curves():
    from course_lib.explorer import explorer_readout, sweep_budget, sweep_chance
    from course_lib.files import load_results
    sweep = load_results("degradation")
    assert sweep_budget(sweep, 56) == "320 steps, cosine to 0; plain-56 had not levelled off"
    assert sweep_budget(sweep, 20) == "320 steps, cosine to 0"
    assert sweep_budget(sweep, 26) == ""                         # not in the sweep
    chance = sweep_chance(sweep)
    assert [round(c["majority_error"], 4) for c in chance] == [0.889, 0.8845, 0.8878]
    text = explorer_readout(56, False, True, sweep)
    assert "plain-56 had not levelled off" in text and "most common digit gives 88.71%" in text
