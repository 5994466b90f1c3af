"""Metrics with the reset / update / accumulate interface of the seed course's Runner."""

from __future__ import annotations

from .i18n import _

import torch
from torch import Tensor


class Accuracy:
    """Fraction of correct predictions; `update` takes logits (N, C) or labels (N,)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.num_correct, self.num_total = 0, 0

    def update(self, preds: Tensor, labels: Tensor) -> float:
        """Add a batch; returns that batch's accuracy."""
        if preds.ndim == 2:
            preds = preds.argmax(dim=1)
        if preds.shape != labels.shape:
            raise ValueError(_("predictions {preds_shape} and labels {labels_shape} do not match; pass logits (N, C) or class indices (N,)").format(preds_shape=tuple(preds.shape), labels_shape=tuple(labels.shape)))
        correct = int((preds == labels).sum())
        self.num_correct += correct
        self.num_total += labels.numel()
        return correct / max(labels.numel(), 1)

    def accumulate(self) -> float:
        """Accuracy over everything since the last reset (0.0 if nothing was added)."""
        return self.num_correct / self.num_total if self.num_total else 0.0

    def __repr__(self) -> str:
        return f"Accuracy({self.num_correct}/{self.num_total})"


@torch.no_grad()
def confusion_matrix(preds: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Counts (num_classes, num_classes): row = true class, column = predicted class."""
    if preds.ndim == 2:
        preds = preds.argmax(dim=1)
    idx = labels.long() * num_classes + preds.long()
    return torch.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)
