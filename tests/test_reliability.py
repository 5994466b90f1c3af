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
