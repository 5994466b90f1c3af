"""`Runner`: the training loop of the course, in the spirit of the seed course's RunnerV3.

    runner = Runner(model, optimizer, loss_fn, Accuracy())
    runner.train(train_loader, dev_loader, num_epochs=5, log_steps=50, eval_steps=100,
                 save_path="best.pt")
    score, loss = runner.evaluate(test_loader)
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

import torch
import torch.nn as nn
from torch import Tensor
from tqdm.std import tqdm          # a text bar: its final state is what a saved notebook shows

from .config import eval_mode, get_device
from .metrics import Accuracy
from .models import build_model


class OnLog(Protocol):
    """What `Runner.train(on_log=...)` calls: with the history so far, every `log_steps` steps."""

    def __call__(self, history: dict[str, list]) -> None: ...


@dataclass
class _Loop:
    """The settings of one `Runner.train` call, shared with `_train_epoch`."""

    total: int
    log_steps: int
    on_log: OnLog | None
    should_stop: Callable[[], bool] | None
    dev_loader: Iterable | None
    eval_steps: int
    save_path: str | Path | None
    done: int = 0
    bar: object = None


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, or does not fit the model."""


def save_checkpoint(model: nn.Module, path: str | Path, meta: dict | None = None) -> Path:
    """Save {"model": state_dict, "model_args": ..., "meta": ...} atomically.

    The file is written to a temporary name in the same folder and then renamed, so an
    interrupted save never leaves a half-written checkpoint behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"model": state, "model_args": getattr(model, "model_args", None), "meta": meta or {}}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict safely (`weights_only=True`), with a clear error if it is bad."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path} is corrupt or not a PyTorch checkpoint "
                              f"({type(err).__name__}). Re-run training to recreate it.") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise CheckpointError(f"{path} is not a course checkpoint (no 'model' entry)")
    return payload


def model_from_checkpoint(path: str | Path) -> nn.Module:
    """Rebuild a course model from a checkpoint that recorded its `model_args`."""
    payload = load_checkpoint(path)
    if not payload.get("model_args"):
        raise CheckpointError(f"{path} does not record the model's arguments; build the model "
                              "yourself and use Runner.load_model")
    model = build_model(payload["model_args"])
    model.load_state_dict(payload["model"])
    return model


def _check_writable(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointError(f"cannot create the folder for {path}: {err}") from None
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CheckpointError(f"cannot write the checkpoint {path}: the folder or file is read-only")
    for stale in folder.glob(f"{path.name}*.tmp"):     # left by a save that was killed half-way
        stale.unlink(missing_ok=True)


@torch.inference_mode()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
             metric=None, device=None) -> tuple[float, float]:
    """Score (`metric`, accuracy by default) and mean loss (cross-entropy by default) of `model`
    over a loader, in eval mode; the model's mode and BN statistics are left as they were."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    metric = metric if metric is not None else Accuracy()
    device = device if device is not None else next(model.parameters()).device
    metric.reset()
    total_loss, count = 0.0, 0
    with eval_mode(model):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total_loss += loss_fn(logits, y).item() * len(y)
            count += len(y)
            metric.update(logits, y)
    if count == 0:
        raise ValueError("the loader yielded no batches")
    return metric.accumulate(), total_loss / count


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy of `model` on tensors (x, y), in eval mode, `batch_size` at a time, on the
    model's device; the model's mode is left as it was."""
    device = next(model.parameters()).device
    with eval_mode(model):
        hits = sum((model(x[i:i + batch_size].to(device)).argmax(1) == y[i:i + batch_size].to(device)).sum().item()
                   for i in range(0, len(y), batch_size))
    return hits / len(y)


class Runner:
    """Trains, evaluates and predicts with one model.

    Args:
        model: any `nn.Module` mapping a batch to logits.
        optimizer: built on `model.parameters()`.
        loss_fn: e.g. `nn.CrossEntropyLoss()`.
        metric: an object with reset / update / accumulate (e.g. `metrics.Accuracy()`).
        device: None uses `get_device()`: $COURSE_DEVICE if set, else CUDA when present, else the CPU.
        scheduler: an optional learning-rate scheduler, stepped after every training step.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 loss_fn: Callable[[Tensor, Tensor], Tensor], metric, device=None,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None = None) -> None:
        self.device = get_device(device)
        self.model = model.to(self.device)
        self.optimizer, self.loss_fn, self.metric = optimizer, loss_fn, metric
        self.scheduler = scheduler
        self.history: dict[str, list] = {k: [] for k in (
            "step", "train_loss", "train_acc", "dev_step", "dev_loss", "dev_acc", "epoch_end")}
        self.best_score = -math.inf
        self.best_state: dict[str, Tensor] | None = None   # the best dev model, kept in memory
        self.global_step = 0

    def _to_device(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def train(self, train_loader: Iterable, dev_loader: Iterable | None = None, num_epochs: int = 1,
              log_steps: int = 100, eval_steps: int = 0, save_path: str | Path | None = None,
              progress: bool = True, on_log: OnLog | None = None, max_steps: int | None = None,
              should_stop: Callable[[], bool] | None = None) -> dict:
        """Train for `num_epochs`; evaluate on `dev_loader` every `eval_steps` steps (and at the
        end of each epoch if `eval_steps` is 0) and save the best model to `save_path`.

        Args:
            log_steps: how often the progress bar is refreshed and `on_log` is called.
            on_log: called as `on_log(history)` every `log_steps` steps and once at the end,
                e.g. a `plotting.LiveCurve()`.
            max_steps: stop after this many steps in total (used by quick demos).
            should_stop: called after every step; training ends when it returns True (for
                example a `threading.Event().is_set`, set by a stop button, even before training starts).
        Returns the history: per-step train loss and accuracy, and dev loss and accuracy.
        """
        if num_epochs < 1:
            raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
        if log_steps < 1:
            raise ValueError(f"log_steps must be >= 1, got {log_steps}")
        total = num_epochs * len(train_loader)
        if total == 0:
            raise ValueError("the training loader yields no batches: is the training set empty?")
        if save_path is not None:
            _check_writable(Path(save_path))               # before training, not at the first save
        if max_steps is not None:
            total = min(total, max_steps)
        loop = _Loop(total, log_steps, on_log, should_stop, dev_loader, eval_steps, save_path)
        with tqdm(total=total, desc="training", unit="step", disable=not progress, leave=True,
                  file=sys.stdout, mininterval=1.0, ncols=100) as loop.bar:
            for epoch in range(num_epochs):
                stop = self._train_epoch(train_loader, epoch, loop)
                self.history["epoch_end"].append(self.global_step)
                if not eval_steps and dev_loader is not None:
                    self._eval_and_save(dev_loader, save_path)
                if stop:
                    break
        if on_log is not None:
            on_log(self.history)
        return self.history

    def _train_epoch(self, train_loader: Iterable, epoch: int, loop: "_Loop") -> bool:
        """One pass over `train_loader`; True when training must end (step budget or stop)."""
        for x, y in train_loader:
            if len(y) == 0:
                raise ValueError(f"the training loader yielded an empty batch at step {self.global_step + 1}")
            loss, acc = self._train_step(*self._to_device(x, y))
            self.global_step += 1
            h = self.history
            h["step"].append(self.global_step)
            h["train_loss"].append(loss)
            h["train_acc"].append(acc)
            if not math.isfinite(loss):
                lr = self.optimizer.param_groups[0].get("lr")
                raise TrainingDiverged(
                    f"the loss became {loss} at step {self.global_step} (epoch {epoch + 1}). "
                    f"Training stopped: try a lower learning rate (it is {lr}).")
            if loop.eval_steps and loop.dev_loader is not None and self.global_step % loop.eval_steps == 0:
                self._eval_and_save(loop.dev_loader, loop.save_path)
            loop.bar.update(1)
            loop.done += 1
            if self.global_step % loop.log_steps == 0:
                loop.bar.set_postfix(loss=f"{loss:.4f}")
                if loop.on_log is not None:
                    loop.on_log(self.history)
            if loop.should_stop is not None and loop.should_stop():
                return True
            if loop.done >= loop.total:
                return True
        return False

    def _train_step(self, x: Tensor, y: Tensor) -> tuple[float, float]:
        self.model.train()
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        with torch.no_grad():
            self.metric.reset()                # the same metric as `evaluate`, on this batch
            self.metric.update(logits, y)
            acc = self.metric.accumulate()
        return loss.item(), acc

    def _eval_and_save(self, dev_loader: Iterable, save_path: str | Path | None) -> None:
        score, loss = self.evaluate(dev_loader)
        self.history["dev_step"].append(self.global_step)
        self.history["dev_loss"].append(loss)
        self.history["dev_acc"].append(score)
        if score > self.best_score:
            self.best_score = score
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if save_path is not None:
                save_checkpoint(self.model, save_path,
                                meta={"step": self.global_step, "dev_score": score})

    def restore_best(self) -> None:
        """Load the best dev model seen during training back into `self.model`."""
        if self.best_state is None:
            raise RuntimeError("no dev evaluation has run yet: pass dev_loader to train()")
        self.model.load_state_dict(self.best_state)

    def evaluate(self, loader: Iterable) -> tuple[float, float]:
        """Score (the metric) and mean loss over a loader, in eval mode."""
        return evaluate(self.model, loader, self.loss_fn, self.metric, self.device)

    @torch.inference_mode()
    def predict(self, x: Tensor) -> Tensor:
        """Logits for a batch (N, C, H, W), in eval mode."""
        with eval_mode(self.model):
            return self.model(x.to(self.device))

    def save_model(self, path: str | Path) -> Path:
        """Save the current weights (and the model's arguments) as a course checkpoint."""
        return save_checkpoint(self.model, path, meta={"step": self.global_step})

    def load_model(self, path: str | Path) -> None:
        """Load weights saved by `train(save_path=...)` or `save_model`."""
        payload = load_checkpoint(path)
        try:
            self.model.load_state_dict(payload["model"])
        except RuntimeError as err:
            first = str(err).splitlines()[0] if str(err) else ""
            raise CheckpointError(f"{path} does not fit this model: {first}. It was saved from "
                                  f"{payload.get('model_args')}") from None
