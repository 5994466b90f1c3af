"""`Runner`: the training loop of the course, in the spirit of the seed course's RunnerV3.

    runner = Runner(model, optimizer, loss_fn, Accuracy())
    runner.train(train_loader, dev_loader, num_epochs=5, log_steps=50, eval_steps=100,
                 save_path="best.pt")
    score, loss = runner.evaluate(test_loader)
"""

from __future__ import annotations

from .i18n import N_, _

import io
import math
import sys
from contextlib import contextmanager
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

import torch
import torch.nn as nn
from torch import Tensor
from tqdm.std import tqdm          # a text bar: its final state is what a saved notebook shows

from . import files
from .config import eval_mode, get_device
from .metrics import Accuracy
from .models import build_model


class OnLog(Protocol):
    """What `Runner.train(on_log=...)` calls: with the history so far, every `log_steps` steps."""

    def __call__(self, history: dict[str, list]) -> None: ...


@dataclass
class _Loop:
    """The settings of one `Runner.train` call and its progress: what the steps share."""

    total: int
    log_steps: int
    on_log: OnLog | None
    should_stop: Callable[[], bool] | None
    dev_loader: Iterable | None
    eval_steps: int
    save_path: str | Path | None
    done: int = 0
    bar: object = None

    def report(self, step: int, loss: float, history: dict) -> None:
        """Advance the bar; every `log_steps` steps show the loss and call `on_log`."""
        self.bar.update(1)
        self.done += 1
        if step % self.log_steps == 0:
            self.bar.set_postfix({_("loss"): f"{loss:.4f}"})
            if self.on_log is not None:
                self.on_log(history)

    def finished(self) -> bool:
        """A stop was asked for, or the step budget is spent."""
        return (self.should_stop is not None and self.should_stop()) or self.done >= self.total


def _step_budget(train_loader: Iterable, num_epochs: int, log_steps: int, max_steps: int | None) -> int:
    """The number of steps `Runner.train` will take; ValueError for settings that make no sense."""
    if num_epochs < 1:
        raise ValueError(_("num_epochs must be >= 1, got {num_epochs}").format(num_epochs=num_epochs))
    if log_steps < 1:
        raise ValueError(_("log_steps must be >= 1, got {log_steps}").format(log_steps=log_steps))
    total = num_epochs * len(train_loader)
    if total == 0:
        raise ValueError(_("the training loader yields no batches: is the training set empty?"))
    return total if max_steps is None else min(total, max_steps)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, or does not fit the model."""


CHECKPOINT_FIX = N_("Re-run the training that wrote it (or restore a copy) to recreate it.")


def save_checkpoint(model: nn.Module, path: str | Path, meta: dict | None = None) -> Path:
    """Save {"model": state_dict, "model_args": ..., "meta": ...} atomically, with its SHA-256
    record (`files.write_with`): an interrupted save never leaves a half-written checkpoint, and
    a checkpoint damaged later is refused when it is loaded."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"model": state, "model_args": getattr(model, "model_args", None), "meta": meta or {}}
    buffer = io.BytesIO()
    torch.save(payload, buffer)            # in memory first: a full disk is then files' clear error, not torch's
    try:
        return files.write_bytes(path, buffer.getvalue())
    except files.FileWriteError as err:
        raise CheckpointError(str(err)) from None


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict safely (`weights_only=True`) after checking its SHA-256 record,
    with a clear error if it is missing, damaged, without its record (unverified) or not a course
    checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(_("checkpoint not found: {path}").format(path=path) + (_(" (it is a folder)") if path.is_dir() else ""))
    try:
        data = files.read_bytes(path, _(CHECKPOINT_FIX), required=True)   # no record: unverified, refused
    except files.DamagedFileError as err:
        raise CheckpointError(str(err)) from None
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(_("{path} is corrupt or not a PyTorch checkpoint ({name}). {CHECKPOINT_FIX}").format(path=path, name=type(err).__name__, CHECKPOINT_FIX=_(CHECKPOINT_FIX))) from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise CheckpointError(_("{path} is not a course checkpoint (no 'model' entry)").format(path=path))
    if not isinstance(payload["model"], dict):
        raise CheckpointError(_("{path}: its 'model' entry is a {name}, not a dict of weights (a state_dict); it was not saved by the course").format(path=path, name=type(payload['model']).__name__))
    return payload


def _mismatches(model: nn.Module, state: dict, shown: int = 3) -> list[str]:
    """The first differences between a model's weights and a state_dict, in words."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    sizes = [_("{k} is {state_k_shape} in the checkpoint, {own_k_shape} in the model").format(k=k, state_k_shape=tuple(state[k].shape), own_k_shape=tuple(own[k].shape))
             for k in own if k in state and getattr(state[k], "shape", None) != own[k].shape]
    out = []
    for label, items in ((_("missing from the checkpoint"), missing), (_("not in the model"), unexpected),
                         (_("size mismatch"), sizes)):
        if items:
            more = _(" and {n} more").format(n=len(items) - shown) if len(items) > shown else ""
            out.append(f"{label} ({len(items)}): {', '.join(items[:shown])}{more}")
    return out


def load_weights(model: nn.Module, payload: dict, path: str | Path) -> nn.Module:
    """Load a checkpoint's weights into `model`; CheckpointError listing the first mismatches."""
    problems = _mismatches(model, payload["model"])
    try:
        if not problems:
            model.load_state_dict(payload["model"])
    except (RuntimeError, ValueError, TypeError) as err:
        problems = [line.strip() for line in str(err).splitlines()[1:4]] or [type(err).__name__]
    if problems:
        raise CheckpointError(_("{path} does not fit this model: ").format(path=path) + "; ".join(problems) +
                              _(". It was saved from model_args {get}").format(get=payload.get('model_args')))
    return model


def model_from_checkpoint(path: str | Path) -> nn.Module:
    """Rebuild a course model from a checkpoint that recorded its `model_args`."""
    payload = load_checkpoint(path)
    args = payload.get("model_args")
    if not args:
        raise CheckpointError(_("{path} does not record the model's arguments; build the model yourself and use Runner.load_model").format(path=path))
    if not isinstance(args, dict):
        raise CheckpointError(_("{path} records model_args as a {name}, not a dict; build the model yourself and use Runner.load_model").format(path=path, name=type(args).__name__))
    try:
        model = build_model(args)
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(_("{path} records model_args {args} that the course cannot build ({name}: {err}); build the model yourself and use Runner.load_model").format(path=path, args=args, name=type(err).__name__, err=err)) from None
    return load_weights(model, payload, path)


def _check_writable(path: Path) -> None:
    try:
        files.check_writable(path, N_("checkpoint"), example="best.pt")
    except files.FileWriteError as err:
        raise CheckpointError(str(err)) from None


@contextmanager
def _claimed(path: str | Path | None):
    """Hold the checkpoint's lock for the whole run (nothing to hold without a save_path)."""
    if path is None:
        yield
        return
    try:
        with files.claim(path):
            yield
    except files.FileBusyError as err:
        raise CheckpointError(str(err)) from None


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
        raise ValueError(_("the loader yielded no batches"))
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
        total = _step_budget(train_loader, num_epochs, log_steps, max_steps)
        if save_path is not None:
            _check_writable(Path(save_path))               # before training, not at the first save
        loop = _Loop(total, log_steps, on_log, should_stop, dev_loader, eval_steps, save_path)
        with _claimed(save_path), tqdm(total=total, desc=_("training"), unit=_("step"), disable=not progress,
                                       leave=True, file=sys.stdout, mininterval=1.0, ncols=100) as loop.bar:
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

    def _train_epoch(self, train_loader: Iterable, epoch: int, loop: _Loop) -> bool:
        """One pass over `train_loader`; True when training must end (step budget or stop)."""
        for x, y in train_loader:
            loss = self._recorded_step(x, y, epoch)
            if loop.eval_steps and loop.dev_loader is not None and self.global_step % loop.eval_steps == 0:
                self._eval_and_save(loop.dev_loader, loop.save_path)
            loop.report(self.global_step, loss, self.history)
            if loop.finished():
                return True
        return False

    def _recorded_step(self, x: Tensor, y: Tensor, epoch: int) -> float:
        """One training step, added to the history; TrainingDiverged if the loss is not finite."""
        if len(y) == 0:
            raise ValueError(_("the training loader yielded an empty batch at step {value}").format(value=self.global_step + 1))
        loss, acc = self._train_step(*self._to_device(x, y))
        self.global_step += 1
        for key, value in (("step", self.global_step), ("train_loss", loss), ("train_acc", acc)):
            self.history[key].append(value)
        if not math.isfinite(loss):
            lr = self.optimizer.param_groups[0].get("lr")
            raise TrainingDiverged(
                _("the loss became {loss} at step {global_step} (epoch {value}). Training stopped: try a lower learning rate (it is {lr}).").format(loss=loss, global_step=self.global_step, value=epoch + 1, lr=lr))
        return loss

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
            raise RuntimeError(_("no dev evaluation has run yet: pass dev_loader to train()"))
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
        load_weights(self.model, load_checkpoint(path), path)
