"""Issue 21: one owner for every file the course writes (course_lib/files.py), and the cases it fixes:
damaged files refused (item 1), finished runs kept (item 2), one writer per output (item 3)."""

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from course_lib import experiments, files, transfer
from course_lib.__main__ import main
from course_lib.experiments import ArmResult, load_results, save_results
from course_lib.models import cifar_resnet, resnet18
from course_lib.training import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"


def _flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x10
    path.write_bytes(bytes(data))


# ----------------------------------------------------------------------------- the module
def test_write_is_atomic_with_a_record_and_leaves_no_temporary_file(tmp_path):
    path = files.write_json(tmp_path / "a.json", {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    record = files.record_path(path).read_text().split()
    assert record == [files.sha256_file(path), "a.json"]                  # the `sha256sum` format
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.json.sha256"]
    assert files.read_json(path, "fix") == {"x": 1}


def test_a_file_without_a_record_loads_as_before(tmp_path):
    """The committed data/results/*.json have no record (see files.py's docstring): they load,
    and loading them changes nothing."""
    for path in sorted(RESULTS.glob("*.json")):
        before = path.read_bytes()
        assert load_results(path) == json.loads(before)
        assert path.read_bytes() == before and not files.record_path(path).exists()


def test_a_damaged_record_is_refused(tmp_path):
    path = files.write_bytes(tmp_path / "x.bin", b"hello")
    files.record_path(path).write_text("not a digest\n")
    with pytest.raises(files.DamagedFileError, match="x.bin.sha256, the integrity record of .*x.bin, is damaged"):
        files.read_bytes(path, "Make it again.")


def test_a_failed_write_keeps_the_previous_file_and_no_temporary(tmp_path):
    path = files.write_bytes(tmp_path / "x.bin", b"old")

    def writer(f):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(files.FileWriteError, match=r"the disk is full.*previous x.bin, if any, is unchanged"):
        files.write_with(path, writer)
    assert files.read_bytes(path, "") == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin", "x.bin.sha256"]


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(files.FileWriteError, match="is a folder"):
        files.write_bytes(tmp_path, b"x")


# ----------------------------------------------------------------------------- item 1
@pytest.mark.parametrize("fraction", [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95])
def test_a_flipped_bit_in_a_checkpoint_is_refused(tmp_path, fraction):
    """Issue 21.1: one flipped bit at 10 positions; before, all 10 loaded (one weight became 3e35)."""
    path = save_checkpoint(cifar_resnet(8), tmp_path / "best.pt")
    _flip(path, int(path.stat().st_size * fraction))
    with pytest.raises(CheckpointError, match=r"best.pt (is damaged|is corrupt)"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="Re-run the training"):
        model_from_checkpoint(path)


class _Net:                                                # what cached_features needs of a Pretrained
    source = "test"

    def __init__(self):
        torch.manual_seed(0)
        self.model = resnet18(num_classes=2)


def test_a_flipped_bit_in_the_feature_cache_is_not_used(tmp_path, monkeypatch):
    """Issue 21.1: before, a flipped bit in data/external/features/ was reloaded (c4 maps changed by
    up to 2.0). Now the damaged file is refused, said so, and the features are computed again."""
    monkeypatch.setattr(transfer, "FEATURE_DIR", tmp_path)
    net, x = _Net(), torch.rand(4, 3, 32, 32)
    lines = []
    first = transfer.cached_features(net, x, 32, progress=False, log=lines.append)
    (path,) = tmp_path.glob("*.pt")
    size = path.stat().st_size
    for fraction in (0.3, 0.6, 0.9):
        _flip(path, int(size * fraction))
        again = transfer.cached_features(net, x, 32, progress=False, log=lines.append)
        assert torch.equal(again.c4, first.c4) and torch.equal(again.pooled, first.pooled)
        assert str(path) in lines[-1] and "computed again" in lines[-1]
    assert len(lines) == 3


def test_an_unwritable_feature_cache_still_returns_the_features(tmp_path, monkeypatch):
    """Issue 21.7: a read-only data folder gave a raw OSError (EROFS) from cached_features."""
    monkeypatch.setattr(transfer, "FEATURE_DIR", tmp_path / "features")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    lines = []
    feats = transfer.cached_features(_Net(), torch.rand(2, 3, 32, 32), 32, progress=False, log=lines.append)
    assert feats.pooled.shape == (2, 512)
    assert "not saved" in lines[0] and "read-only" in lines[0]


# ----------------------------------------------------------------------------- item 2
def _fake_train_arm(calls, stop_at):
    """A `train_arm` that trains nothing: Ctrl-C at call number `stop_at`."""
    def train_arm(model, data, cfg, seed, **kwargs):
        calls.append(seed)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        h = {"step": [1], "train_loss": [2.3], "train_acc": [0.1], "dev_step": [], "dev_loss": [],
             "dev_acc": [], "epoch_end": [1]}
        return ArmResult(h, 0.5 + 0.1 * len(calls), 1.0, None, 0.1, [0] * len(data.test.y))
    return train_arm


@pytest.mark.parametrize("experiment, stop_at, total", [("plain-vs-residual", 2, 2),
                                                        ("seed-setting", 4, 6)])
def test_ctrl_c_keeps_the_finished_runs_in_out(tmp_path, monkeypatch, capsys, experiment, stop_at, total):
    """Issue 21.2: before, Ctrl-C after 1 of 4 runs wrote nothing, even with --out."""
    monkeypatch.setattr(experiments, "train_arm", _fake_train_arm([], stop_at))
    out = tmp_path / "r.json"
    try:
        rc = main([experiment, "--fast", "--seeds", "1", "--out", str(out)])
    except KeyboardInterrupt:                               # a traceback for the learner
        rc = "KeyboardInterrupt escaped"
    assert rc == 130
    done = stop_at - 1
    got = load_results(out)
    runs = got["runs"] if experiment == "plain-vs-residual" else [
        r for d in got["designs"].values() for r in d["runs"]]
    assert len(runs) == done
    printed = capsys.readouterr()
    line = [ln for ln in printed.out.splitlines() if "Interrupted" in ln]
    assert line == [f"Interrupted after {done} of {total} runs: the {done} finished run"
                    f"{'s are' if done > 1 else ' is'} in {out}. " + line[0].split(f"{out}. ")[1]]
    assert "Traceback" not in printed.err and not files.lock_path(out).exists()


def test_a_full_disk_at_the_save_is_a_clear_message_and_leaves_no_temporary(tmp_path, monkeypatch, capsys):
    """Issue 21.2: before, a full disk at the final save raised a raw OSError after the whole
    training and left a .tmp."""
    monkeypatch.setattr(experiments, "train_arm", _fake_train_arm([], 0))
    out = tmp_path / "r.json"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert main(["plain-vs-residual", "--fast", "--seeds", "1", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not write {out}: the disk is full") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []                  # no .tmp, no lock, no half file


# ----------------------------------------------------------------------------- item 3
def test_a_second_run_with_the_same_out_is_refused(tmp_path, capsys, monkeypatch):
    """Issue 21.3: before, two sweeps on one --out both started and overwrote each other."""
    out = tmp_path / "sweep.json"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from course_lib import files\n"
        f"with files.claim({str(out)!r}):\n    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        assert holder.stdout.readline().strip() == "held"
        called = []
        monkeypatch.setattr(experiments, "degradation", lambda *a, **k: called.append(1))
        with pytest.raises(SystemExit):
            main(["degradation", "--fast", "--depths", "8", "--out", str(out)])
        err = capsys.readouterr().err
        assert f"is being written by process {holder.pid}" in err and not called
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale and the next run takes it over
    with files.claim(out):
        assert json.loads(files.lock_path(out).read_text())["pid"] == os.getpid()
    assert not files.lock_path(out).exists()


def test_a_second_writer_in_another_thread_is_refused(tmp_path):
    out = tmp_path / "sweep.json"
    errors = []
    with files.claim(out):
        with files.claim(out):                              # re-entrant in the same thread
            pass
        t = threading.Thread(target=lambda: errors.append(_try_claim(out)))
        t.start()
        t.join()
    assert isinstance(errors[0], files.FileBusyError)


def _try_claim(path):
    try:
        with files.claim(path):
            return None
    except files.FileBusyError as err:
        return err


def test_concurrent_saves_never_share_a_temporary_file(tmp_path):
    """Issue 21.3: before, two writers shared `<out>.tmp`; one crashed with FileNotFoundError."""
    out = tmp_path / "r.json"
    errors = []

    def write(k):
        try:
            for i in range(30):
                save_results({"writer": k, "i": i, "runs": list(range(200))}, out)
        except Exception as err:                            # noqa: BLE001 - any error fails the test
            errors.append(err)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert load_results(out)["i"] == 29                     # complete, and its record matches
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.json.sha256"]


def test_a_flipped_bit_in_a_results_file_is_refused(tmp_path):
    path = save_results({"experiment": "degradation", "runs": [1, 2, 3]}, tmp_path / "sweep.json")
    _flip(path, 5)
    with pytest.raises(ValueError, match=r"sweep.json is damaged.*git checkout"):
        load_results(path)
