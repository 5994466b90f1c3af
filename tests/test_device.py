"""Issue 29.3: the same code runs on a CUDA device when there is one, and the results say which
device ran them (`meta.device`). The CPU path is tested everywhere; the CUDA path where a GPU is."""

import json

import pytest
import torch

from course_lib import Accuracy, Runner, config
from course_lib.__main__ import main
from course_lib.models import cifar_resnet


def _run_and_read(tmp_path, monkeypatch, device: str) -> dict:
    monkeypatch.setenv("COURSE_DEVICE", device)
    out = tmp_path / "r.json"
    assert main(["plain-vs-residual", "--fast", "--seeds", "1", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_the_cpu_path_records_its_device(tmp_path, monkeypatch):
    results = _run_and_read(tmp_path, monkeypatch, "cpu")
    assert results["meta"]["device"] == "cpu"
    assert all(0 <= r["test_acc"] <= 1 for r in results["runs"])


def test_the_default_device_is_cuda_exactly_when_cuda_is_there(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert config.get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    model = cifar_resnet(8)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.nn.CrossEntropyLoss(), Accuracy())
    assert runner.device == config.get_device()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine: the CPU tests above ran")
def test_the_cuda_path_trains_and_records_its_device(tmp_path, monkeypatch):
    results = _run_and_read(tmp_path, monkeypatch, "cuda")
    assert results["meta"]["device"].startswith("cuda")
    (tmp_path / "cpu").mkdir()
    cpu = _run_and_read(tmp_path / "cpu", monkeypatch, "cpu")
    for a, b in zip(results["runs"], cpu["runs"]):   # same seeds and data: close, not bit-identical
        assert abs(a["test_acc"] - b["test_acc"]) < 0.1
