"""course_lib: the tested code behind the ResNet course notebooks.

The names below are imported on first use (PEP 562), so that `python -m course_lib.<module>` runs
a module that the package has not imported already.
"""

from importlib import import_module

from . import accessibility as _accessibility
from . import hints as _hints

_hints.install()            # in IPython, a NameError names the cell that defines the name
_accessibility.install()    # colour-blind-safe colour cycle; in IPython, alt text on every figure

__version__ = "0.1.0"
_WHERE = {"environment_report": "config", "get_device": "config", "is_fast": "config", "seed_everything": "config",
          "load_mnist": "data", "check_environment": "environment", "Accuracy": "metrics",
          "Bottleneck": "models", "ResBlock": "models", "ResNet": "models", "cifar_resnet": "models",
          "resnet18": "models", "resnet34": "models", "resnet50": "models", "Runner": "training"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
