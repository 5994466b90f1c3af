import pytest
import torch

from course_lib import check_environment
from course_lib import environment
from course_lib.config import get_device


def test_check_environment_prints_one_line_per_requirement(capsys):
    assert check_environment() is True
    lines = capsys.readouterr().out.splitlines()
    names = [c.name for c in environment.environment_checks()]
    assert len(lines) == len(names) + 1
    assert all(line.startswith("[OK] ") for line in lines[:-1])
    assert {"python", "torch", "torchvision", "ipywidgets", "ipykernel", "bundled MNIST", "bundled cats and dogs",
            "resnet50-imagenet", "mnist-full", "device"} <= set(names)


def test_check_environment_flags_a_missing_asset(monkeypatch, capsys, tmp_path):
    from course_lib import assets
    monkeypatch.setattr(assets, "CACHE_DIR", tmp_path)
    assert check_environment() is False
    out = capsys.readouterr().out
    assert "[FAIL] resnet50-imagenet:" in out and "python -m course_lib.assets fetch" in out


def test_check_environment_flags_ipykernel_7_0(monkeypatch, capsys):
    real = environment._version
    monkeypatch.setattr(environment, "_version", lambda m: "7.0.1" if m == "ipykernel" else real(m))
    assert check_environment() is False
    assert "[FAIL] ipykernel: 7.0.1" in capsys.readouterr().out


def test_check_environment_flags_a_missing_package(monkeypatch, capsys):
    real = environment._version
    monkeypatch.setattr(environment, "_version", lambda m: None if m == "ipywidgets" else real(m))
    assert check_environment() is False
    assert "[FAIL] ipywidgets: not importable" in capsys.readouterr().out


def test_device_policy(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")             # MPS is never picked by default
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_device()
    monkeypatch.setenv("COURSE_DEVICE", "gpu-please")
    with pytest.raises(ValueError, match="unknown device COURSE_DEVICE=.gpu-please.: use cpu, cuda"):
        get_device()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("COURSE_DEVICE")
    assert get_device() == torch.device("cuda")
