from pathlib import Path

import pytest
import torch

from course_lib import config

ROOT = Path(__file__).resolve().parents[1]


def test_fast_mode(monkeypatch):
    from course_lib.data import _default_sizes
    for value, fast in [("1", True), ("true", True), ("0", False), ("", False)]:
        monkeypatch.setenv("COURSE_FAST", value)
        assert config.is_fast() is fast
        assert _default_sizes(None, 50, None) == ((1000, 50, 200) if fast else (8000, 50, 1000))


def test_seed_everything_and_device():
    config.seed_everything(3)
    a = torch.rand(3)
    config.seed_everything(3)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(TypeError, match="seed must be an int"):
        config.seed_everything(1.5)
    assert config.get_device("cpu").type == "cpu"
    assert config.get_device().type in {"cpu", "cuda", "mps"}
    assert {"torch", "torchvision", "device"} <= set(config.environment_report())
