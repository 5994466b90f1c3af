"""course_lib: the tested code behind the ResNet course notebooks."""

from .config import environment_report, get_device, is_fast, seed_everything
from .data import load_mnist
from .environment import check_environment
from .metrics import Accuracy
from .models import Bottleneck, ResBlock, ResNet, cifar_resnet, resnet18, resnet34, resnet50
from .training import Runner
from . import accessibility as _accessibility
from . import hints as _hints

_hints.install()            # in IPython, a NameError names the cell that defines the name
_accessibility.install()    # colour-blind-safe colour cycle; in IPython, alt text on every figure

__version__ = "0.1.0"
__all__ = ["Accuracy", "Bottleneck", "ResBlock", "ResNet", "Runner", "check_environment", "cifar_resnet",
           "environment_report", "get_device", "is_fast", "load_mnist", "resnet18",
           "resnet34", "resnet50", "seed_everything"]
