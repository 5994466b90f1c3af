"""Checks of notebook 09 (ResNet in practice): 09.1 the top 5 classes (with a prediction recorded
first), 09.2 Caffe-style input from torchvision's, 09.3 folding a BatchNorm into the convolution
before it."""

from __future__ import annotations

from ..i18n import N_, _

from typing import Callable

import torch
import torch.nn as nn

from ._core import CheckFailed, expect, exercise, number, tensor
from ._predict import WORDING_07_10, read_prediction, reveal_prediction, with_prediction


def _yes_or_no(value) -> bool:
    import numpy as np

    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype == torch.bool:
        return bool(value)
    expect(isinstance(value, (bool, np.bool_)),
           _("Record your prediction as True or False; you gave a value of type {name}.").format(name=type(value).__name__))
    return bool(value)


def _check_top5(fn: Callable[[torch.Tensor, list], list], predicted) -> None:
    """`fn(logits, categories)` -> the 5 most probable (category, probability) pairs, most probable
    first, for one image's logits (shape (1000,)). `predicted`, optional: True or False, the
    learner's answer, before writing any code, to "does the most probable class have the largest logit?"."""
    guess = read_prediction(predicted, _yes_or_no, none_means=None)
    torch.manual_seed(0)
    logits = torch.randn(1000) * 3
    categories = [f"class {i}" for i in range(1000)]
    answer = fn(logits.clone(), categories)
    expect(isinstance(answer, (list, tuple)), _("Return a list of (category, probability) pairs; you returned a {name}.").format(name=type(answer).__name__))
    got = list(answer)
    expect(len(got) == 5, _("Return 5 pairs, not {got}.").format(got=len(got)))
    expect(all(isinstance(p, (list, tuple)) and len(p) == 2 for p in got),
           _("Return each entry as a pair (category, probability)."))
    names = [p[0] for p in got]
    expect(all(isinstance(n, str) for n in names), _("The first item of each pair is the category's name (a string from categories), not its index."))
    values = [number(p[1], _("a probability for each pair")) for p in got]
    probs = logits.softmax(0)
    top = probs.topk(5).indices.tolist()
    want = [(categories[i], probs[i].item()) for i in top]
    expect(names != [categories[i] for i in logits.topk(5, largest=False).indices.tolist()],
           _("Those are the 5 least probable classes. Sort from the highest probability down."))
    expect(sorted(names) != sorted(n for n, _unused in want) or names == [n for n, _unused in want],
           _("The right 5 classes, in the wrong order: most probable first."))
    expect(names == [n for n, _unused in want], _("The names are not the 5 most probable classes."))
    expect(not all(abs(v - logits[i].item()) < 1e-5 for v, i in zip(values, top)),
           _("Those are logits, not probabilities: turn the scores into probabilities over all 1,000 classes first."))
    expect(not all(abs(v - torch.sigmoid(logits[i]).item()) < 1e-5 for v, i in zip(values, top)),
           _("Those are sigmoids of each logit on its own. The 1,000 probabilities of one image must add up to 1."))
    top_only = logits[top].softmax(0).tolist()
    expect(not all(abs(v - w) < 1e-5 for v, w in zip(values, top_only)),
           _("Your 5 probabilities add up to 1 among themselves. Normalise over all 1,000 classes, then pick the top 5."))
    expect(all(abs(v - w) < 1e-5 for v, (_unused, w) in zip(values, want)),
           _("The probabilities are not those of the logits over the 1,000 classes."))
    same = top == logits.topk(5).indices.tolist()
    measured = (_("On the check's 1,000 logits the 5 most probable classes are the 5 largest logits, in the same order.") if same
                else _("On the check's 1,000 logits the 5 most probable classes are not the 5 largest logits in the same order."))
    reveal_prediction("Exercise 09.1", guess,
                      lambda p: (_("You predicted that the most probable class has the largest logit.") if p
                                 else _("You predicted that the most probable class need not have the largest logit.")) + " " + measured,
                      measured=measured, wording=WORDING_07_10)


check_top5 = with_prediction("Exercise 09.1", _check_top5)


@exercise("Exercise 09.2")
def check_caffe_input(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """`fn(x)` -> the Caffe-style input of the original ResNet-50 for the image whose torchvision
    input is `x`, shape (3, H, W): x is what `net.preprocess` gives (RGB in [0, 1], normalised with
    ImageNet's mean and std, IMAGENET_MEAN and IMAGENET_STD, in RGB order); Caffe's input is the same
    image in BGR order, scaled to 0-255, minus the mean colour CAFFE_MEAN_BGR (in BGR order)."""
    from ..assets import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD

    torch.manual_seed(0)
    rgb = torch.rand(3, 4, 5)                              # not square: the channel axis is the only one of size 3
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    x = (rgb - mean) / std
    caffe = torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1)
    want = rgb.flip(0) * 255 - caffe
    got = tensor(fn(x.clone()), _("a tensor")).float()
    expect(tuple(got.shape) == (3, 4, 5), _("Keep the shape (3, H, W); for x of shape (3, 4, 5) you returned {got_shape}.").format(got_shape=tuple(got.shape)))
    if torch.allclose(got, want, atol=1e-3):
        return
    slips = [(x.flip(0) * 255 - caffe, N_("You treated x as an image in [0, 1], but torchvision's preprocessing has normalised it with ImageNet's mean and std. Undo that first.")),
             ((x.flip(0) * std + mean) * 255 - caffe, N_("You undid torchvision's normalisation after flipping the channels, so red's mean and std went to blue. IMAGENET_MEAN and IMAGENET_STD are in RGB order: undo it before the flip, or flip them too.")),
             (((x - mean) / std).flip(0) * 255 - caffe, N_("You normalised x a second time instead of undoing it. Undo each step with its inverse: a division with a multiplication, a subtraction with an addition.")),
             (((x + mean) * std).flip(0) * 255 - caffe, N_("You undid the normalisation in the wrong order. The std was divided last, so undo it first, then add the mean.")),
             ((x + mean).flip(0) * 255 - caffe, N_("You added the mean back but left out the std. Torchvision's preprocessing divides by the std too.")),
             ((x * std).flip(0) * 255 - caffe, N_("You multiplied by the std but did not add the mean back.")),
             (rgb * 255 - caffe, N_("The channels are still in RGB order, and Caffe wants them in BGR order.")),
             (rgb.flip(0) * 255 - caffe.flip(0), N_("You subtracted the mean colour in the wrong order. CAFFE_MEAN_BGR is already in BGR order, like your channels.")),
             (rgb * 255 - caffe.flip(0), N_("You subtracted the right mean from the right colour, but left the channels in RGB order.")),
             (rgb.flip(0) - caffe, N_("You subtracted the mean colour from values in [0, 1]. Caffe's mean colour is on the 0-255 scale.")),
             ((rgb.flip(0) - caffe) * 255, N_("You subtracted the mean before scaling. Caffe's mean colour is on the 0-255 scale, so scale first.")),
             (rgb.flip(0) * 255 + caffe, N_("You added the mean colour. Caffe's input is centred, so subtract it.")),
             (rgb.flip(0) * 255, N_("You left out the mean colour.")),
             (rgb.flip(0), N_("You stopped at the image in [0, 1], in BGR order. Caffe's input is on the 0-255 scale, minus its mean colour.")),
             (rgb, N_("You stopped at the image in [0, 1]. Caffe's input is in BGR order, on the 0-255 scale, minus its mean colour."))]
    for value, hint in slips:
        expect(not torch.allclose(got, value, atol=1e-3), _(hint))
    raise CheckFailed(_("The result is not Caffe's input. Follow one pixel by hand: from x back to its value in [0, 1], then to Caffe's convention, channel by channel."))


@exercise("Exercise 09.3")
def check_fold_bn(fn: Callable[[torch.Tensor, nn.BatchNorm2d], tuple]) -> None:
    """`fn(conv_weight, bn)` -> (weight, bias) of one convolution that computes bn(conv(x)) in eval
    mode, for a convolution without bias. Tried on PyTorch's default eps (1e-5) and on a BatchNorm
    with eps 1e-3, as Keras builds them (the converter of notebook 09 reads such BatchNorms)."""
    from ..assets import KERAS_BN_EPS

    torch.manual_seed(0)
    for c_in, c_out, eps in ((3, 6, 1e-5), (5, 4, KERAS_BN_EPS)):
        _fold_case(fn, nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out, eps=eps).eval())


def _fold_case(fn, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.001, 0.01)            # small variances: eps matters
    x = torch.randn(2, conv.in_channels, 8, 8)
    with torch.no_grad():
        want = bn(conv(x)).double()
    answer = fn(conv.weight.detach().clone(), bn)
    expect(isinstance(answer, (list, tuple)) and len(answer) == 2, _("Return two things, (weight, bias)."))
    weight, bias = (tensor(v, _("a tensor")) for v in answer)
    shape, c = tuple(conv.weight.shape), conv.out_channels
    expect(tuple(weight.shape) == shape and tuple(bias.shape) == (c,),
           _("The weight keeps the convolution's shape {shape} and the bias has one value per output channel, ({c},); you returned {weight_shape} and {bias_shape}.").format(shape=shape, c=c, weight_shape=tuple(weight.shape), bias_shape=tuple(bias.shape)))

    def folded(w, b):
        return nn.functional.conv2d(x.double(), w.double(), b.double(), padding=1)

    got = folded(weight, bias)
    if torch.allclose(got, want, atol=1e-4):
        return
    w0 = conv.weight.detach().double()
    g, beta, m, v = (t.detach().double() for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var))

    def fold_with(scale):
        return folded(w0 * scale.view(-1, 1, 1, 1), beta - m * scale)

    expect(bn.eps == 1e-5 or not torch.allclose(got, fold_with(g / (v + 1e-5).sqrt()), atol=1e-4),
           _("With a BatchNorm whose eps is {eps:g} your fold is off: it fits eps = 1e-5, PyTorch's default. Take eps from the BatchNorm you are given, as you take its statistics.").format(eps=bn.eps))
    expect(not torch.allclose(got, fold_with(g / v.sqrt()), atol=1e-4),
           _("Close: your fold would be right if BatchNorm had no eps. With variances this small, bn.eps matters."))
    expect(not torch.allclose(got, fold_with(g / (v + bn.eps)), atol=1e-4),
           _("You divided by the variance where BatchNorm divides by the standard deviation."))
    scale = g / (v + bn.eps).sqrt()
    w_ok = torch.allclose(weight, w0 * scale.view(-1, 1, 1, 1), atol=1e-5)
    b_ok = torch.allclose(bias, beta - m * scale, atol=1e-5)
    expect(not w_ok or b_ok, _("Your weight is right but your bias is not. Work out what bn(conv(x)) gives for an input of zeros."))
    expect(not b_ok or w_ok, _("Your bias is right but your weight is not. Each output channel's filter is scaled by its own factor."))
    expect(not torch.allclose(weight, w0, atol=1e-6), _("You kept the convolution's weight as it is, but BatchNorm also scales each channel."))
    raise CheckFailed(_("Your convolution does not compute bn(conv(x)). Write out what BN does to one output channel in eval mode, and sort its terms into a factor and an offset."))
