"""Predict your own digit: turn any image file into an MNIST-like input, and show the top 3.

MNIST's conventions (LeCun et al.): white digit on a black background, the digit scaled so that
its longer side is 20 pixels, centred by its centre of mass in a 28×28 image. The course's
models then see it resized to 32×32 and normalised, like the training data.
"""

from __future__ import annotations

from .i18n import _

import io

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .config import eval_mode
from .data import to_model_input


class ImageInputError(ValueError):
    """The file is not an image we can read, or holds no digit."""


MAX_PIXELS = 40_000_000       # a 40-megapixel photo; larger files are refused before decoding


def open_image(data: bytes):
    """Decode image bytes (PNG, JPEG, GIF, BMP, ...) to a PIL image, safely: the pixel count is
    checked from the header before decoding, the EXIF orientation of phone photos is applied,
    and transparent pixels become white. Every failure is an ImageInputError with a reason."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ImageInputError(_("the file is empty"))
    try:
        image = Image.open(io.BytesIO(bytes(data)))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageInputError(_("the image is {width:,}×{height:,} pixels, more than the {value:.0f} megapixels this course accepts: shrink it first").format(width=width, height=height, value=MAX_PIXELS / 1000000.0))
        image.load()
        image = ImageOps.exif_transpose(image)
    except ImageInputError:
        raise
    except Image.DecompressionBombError:
        raise ImageInputError(_("the image declares an enormous size (a 'decompression bomb'): refused")) from None
    except UnidentifiedImageError:
        raise ImageInputError(_("this file is not an image PIL can read (try a PNG or JPEG)")) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageInputError(_("the image file is corrupt or truncated ({err})").format(err=err)) from None
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels count as background: composite on white.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if min(image.size) < 8:
        raise ImageInputError(_("the image is too small ({image_size_0}×{image_size_1} pixels; need at least 8×8)").format(image_size_0=image.size[0], image_size_1=image.size[1]))
    return image


def read_image(data: bytes) -> np.ndarray:
    """`open_image`, then a float grey image in [0, 1] (16-bit and float images are stretched)."""
    image = open_image(data)
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):    # I;16, I;16B (big-endian), I;16L, ...
        arr = np.asarray(image, dtype=np.float64)
        return (arr - arr.min()) / max(arr.max() - arr.min(), 1e-12)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def to_mnist_style(grey: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """A grey image in [0, 1] → 28×28 uint8 in MNIST's conventions.

    The background is whichever level dominates the border; a light background is inverted, so
    the digit becomes white on black. The digit is cropped, scaled to fit 20×20, and placed so
    that its centre of mass is at the centre of the 28×28 image.
    """
    g = np.asarray(grey, dtype=np.float64)

    def border_level(a: np.ndarray) -> float:
        return float(np.median(np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])))

    if border_level(g) > 0.5:                        # dark ink on light paper: invert
        g = 1.0 - g
    g = np.clip(g - border_level(g), 0, None)        # the paper's grey becomes black
    if g.max() <= 0:
        raise ImageInputError(_("the image looks blank: no digit found"))
    g = g / g.max()
    ys, xs = np.nonzero(g > threshold)
    if len(ys) == 0:
        raise ImageInputError(_("the image has no clear strokes: no digit found"))
    crop = g[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    t = torch.as_tensor(crop, dtype=torch.float32)[None, None]
    small = F.interpolate(t, size=(new_h, new_w), mode="bilinear", align_corners=False,
                          antialias=True)[0, 0].clamp(0, 1).numpy()
    canvas = np.zeros((28, 28))
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = small
    # shift so that the centre of mass sits at (14, 14), as in MNIST
    total = canvas.sum()
    cy = (canvas.sum(1) * np.arange(28)).sum() / total
    cx = (canvas.sum(0) * np.arange(28)).sum() / total
    dy, dx = int(round(13.5 - cy)), int(round(13.5 - cx))
    canvas = np.roll(np.roll(canvas, dy, axis=0), dx, axis=1)
    return (canvas * 255).round().astype(np.uint8)


def preprocess(data: bytes, size: int = 32) -> Tensor:
    """Image file bytes → model input (1, 1, size, size), normalised like the training data."""
    return to_model_input(to_mnist_style(read_image(data))[None], size=size)


@torch.inference_mode()
def top_k(model: torch.nn.Module, x: Tensor, k: int = 3) -> list[tuple[int, float]]:
    """The k most probable classes and their probabilities, in eval mode."""
    with eval_mode(model):
        device = next(model.parameters()).device
        probs = torch.softmax(model(x.to(device)), dim=1)[0].cpu()
    p, idx = probs.topk(k)
    return [(int(i), float(v)) for i, v in zip(idx, p)]


def plot_prediction(x: Tensor, top: list[tuple[int, float]], title: str = ""):
    """The preprocessed input next to a bar chart of the top-k probabilities."""
    import matplotlib.pyplot as plt

    from .data import unnormalize

    fig, (a0, a1) = plt.subplots(1, 2, figsize=(6.5, 2.6), gridspec_kw={"width_ratios": [1, 1.6]})
    a0.imshow(unnormalize(x)[0, 0].numpy(), cmap="gray")
    a0.set_title(_("what the model sees"), fontsize=9)
    a0.axis("off")
    labels = [str(c) for c, _unused in top]
    colors = ["C0"] * (len(top) - 1) + ["C2"]                  # the top class, drawn last, in green
    a1.barh(labels[::-1], [p for _unused, p in top][::-1], color=colors)
    for i, (_unused, p) in enumerate(top[::-1]):
        a1.text(min(p + 0.02, 0.85), i, f"{p:.1%}", va="center", fontsize=9)
    a1.set(xlim=(0, 1), xlabel=_("probability"), title=title or _("top-3 prediction"))
    fig.tight_layout()
    return fig


def sample_indices(num: int = 4, seed: int = 0) -> np.ndarray:
    """Which bundled digits `sample_images` draws: `num` from the *test* split of
    `load_mnist(seed=0)` (default sizes), so a model trained on that split never saw them."""
    from .data import split_indices

    test = split_indices(seed=0)["test"]
    if not isinstance(num, int) or not 1 <= num <= len(test):
        raise ValueError(_("num must be an int from 1 to {test}, got {num!r}").format(test=len(test), num=num))
    return np.random.default_rng(seed).choice(test, size=num, replace=False)


def sample_images(num: int = 4, seed: int = 0) -> dict[str, bytes]:
    """Test digits (from the test split of `load_mnist(seed=0)`) rendered like photos of
    handwriting: dark ink on light paper, 224×224, with a little noise; PNG, plus one as JPEG
    and one with transparency."""
    from PIL import Image

    from .data import bundled_arrays

    images, labels = bundled_arrays()
    rng = np.random.default_rng(seed)
    picks = sample_indices(num, seed)
    out = {}
    for n, i in enumerate(picks):
        big = Image.fromarray(images[i]).resize((160, 160), Image.BILINEAR)
        paper = np.full((224, 224), 235.0) + rng.normal(0, 6, (224, 224))
        ink = np.zeros((224, 224))
        ink[32:192, 40:200] = np.asarray(big, dtype=np.float64) / 255.0   # off-centre on purpose
        photo = np.clip(paper * (1 - 0.85 * ink), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        if n == 1:
            Image.fromarray(photo).convert("RGB").save(buf, format="JPEG", quality=90)
            name = f"digit_{labels[i]}_photo.jpg"
        elif n == 2:
            rgba = np.zeros((224, 224, 4), dtype=np.uint8)
            rgba[..., 3] = (ink * 255).astype(np.uint8)                 # ink only, transparent paper
            Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG")
            name = f"digit_{labels[i]}_transparent.png"
        else:
            Image.fromarray(photo).save(buf, format="PNG")
            name = f"digit_{labels[i]}_scan.png"
        out[name] = buf.getvalue()
    return out


def photo_figure(net, image, title: str = "", k: int = 5):
    """The photo, the 224×224 crop that the network sees, and its top-k ImageNet categories.
    `net` is a `course_lib.pretrained.Pretrained`. Returns (figure, top-k)."""
    import matplotlib.pyplot as plt

    from .assets import IMAGENET_MEAN, IMAGENET_STD

    image = image.convert("RGB")
    x = net.preprocess(image)                                       # (3, 224, 224), normalised
    crop = x * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    top = net.top_k(image, k)
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(10.5, 3.3), gridspec_kw={"width_ratios": [1, 1, 1.5]})
    a.imshow(image)
    a.set_title(_("{title}: {width}×{height}").format(title=title or _("the photo"), width=image.size[0],
                                                      height=image.size[1]), fontsize=9)
    b.imshow(crop.clamp(0, 1).permute(1, 2, 0).numpy())
    b.set_title(_("what the network sees: 224×224"), fontsize=9)
    for ax in (a, b):
        ax.axis("off")
    names, probs = [n for n, _unused in top][::-1], [p for _unused, p in top][::-1]
    c.barh(range(k), probs, color="C0")
    c.set_yticks(range(k), names, fontsize=9)
    c.set_xlim(0, 1)
    c.set_xlabel(_("probability (softmax)"))
    c.set_title(_("ImageNet top-{k}").format(k=k), fontsize=9)
    for i, q in enumerate(probs):
        c.text(q + 0.01, i, f"{q:.1%}", va="center", fontsize=8)
    fig.tight_layout()
    return fig, top


def photo_samples() -> dict[str, bytes]:
    """The photo of Grace Hopper that ships with matplotlib (JPEG bytes)."""
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return {"grace_hopper.jpg (matplotlib)": f.read()}
