"""Training throughput: the course's Runner on in-memory tensors vs the seed course's pipeline.

Seed configuration: ResNet-18 with the ImageNet stem, 1×32×32 MNIST, batch 64, SGD.
The seed pipeline is a torch DataLoader over a Dataset that converts and transforms each sample
on the fly (ToTensor → Resize(32) → Normalize), feeding a plain training loop. Both see the
same model, optimizer, batch size and number of steps, measured in this one run.

    python benchmarks/bench_training.py [--steps 40] [--warmup 5]

Also printed: the FLOP rate the training reaches, against a dense float32 matmul on the same
machine (the best the CPU does on an ideal kernel), and the effect of a few CPU settings.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from course_lib import Accuracy, Runner, seed_everything
from course_lib.data import MNIST_MEAN, MNIST_STD, bundled_arrays, load_mnist
from course_lib.models import resnet18
from course_lib.profiling import conv_linear_macs

BATCH = 64


class SeedStyleMNIST(Dataset):
    """The seed course's dataset: raw uint8 images, transformed per sample in __getitem__."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = np.array(images), labels   # writable copy
        self.transform = transforms.Compose([
            transforms.ToTensor(), transforms.Resize(32, antialias=True),
            transforms.Normalize([MNIST_MEAN], [MNIST_STD])])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), int(self.labels[i])


def fresh(seed: int = 0):
    seed_everything(seed)
    model = resnet18(1, 10)
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def time_plain_loop(steps: int, warmup: int) -> float:
    images, labels = bundled_arrays()
    loader = DataLoader(SeedStyleMNIST(images[:8000], labels[:8000]), batch_size=BATCH, shuffle=True)
    model, opt = fresh()
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    it = iter(loader)
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        x, y = next(it)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
    return steps * BATCH / (time.perf_counter() - start)


def time_runner(steps: int, warmup: int, channels_last: bool = False) -> float:
    data = load_mnist(8000, 100, 100)
    model, opt = fresh()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    runner = Runner(model, opt, nn.CrossEntropyLoss(), Accuracy(), device="cpu")
    loader = data.train.loader(BATCH, shuffle=True)
    runner.train(loader, num_epochs=1, progress=False, max_steps=warmup)
    start = time.perf_counter()
    runner.train(loader, num_epochs=1, progress=False, max_steps=steps)
    return steps * BATCH / (time.perf_counter() - start)


def time_eval(inference: bool, n: int = 2000) -> float:
    data = load_mnist(100, 100, n)
    model, _ = fresh()
    model.eval()
    ctx = torch.inference_mode if inference else torch.no_grad
    with ctx():
        model(data.test.x[:BATCH])
        start = time.perf_counter()
        for i in range(0, n, 256):
            model(data.test.x[i:i + 256])
    return n / (time.perf_counter() - start)


def matmul_gflops(size: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * size ** 3 * reps / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, "
          f"{args.steps} timed steps after {args.warmup} warm-up steps")

    plain = time_plain_loop(args.steps, args.warmup)
    runner = time_runner(args.steps, args.warmup)
    runner_cl = time_runner(args.steps, args.warmup, channels_last=True)
    print(f"seed pipeline (DataLoader + per-sample transforms): {plain:8.1f} img/s")
    print(f"course Runner (in-memory TensorLoader):             {runner:8.1f} img/s")
    print(f"course Runner, channels_last:                       {runner_cl:8.1f} img/s")
    print(f"ratio Runner / seed pipeline:                       {runner / plain:8.2f}x")
    print(f"ratio channels_last / default:                      {runner_cl / runner:8.2f}x")

    macs = conv_linear_macs(resnet18(1, 10), (1, 32, 32))
    train_flops = 3 * 2 * macs                     # forward + backward ≈ 3 forward passes
    peak = matmul_gflops()
    reached = runner * train_flops / 1e9
    print(f"training FLOPs per image ≈ {train_flops / 1e6:.0f} M (3 × 2 × {macs / 1e6:.1f} M MACs)")
    print(f"FLOP rate reached: {reached:.1f} GFLOP/s; dense 2048² matmul: {peak:.1f} GFLOP/s "
          f"({reached / peak:.0%} of it)")

    no_grad, inference = time_eval(False), time_eval(True)
    print(f"evaluation: no_grad {no_grad:.0f} img/s, inference_mode {inference:.0f} img/s "
          f"(ratio {inference / no_grad:.2f}x)")
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
        one = time_runner(max(args.steps // 2, 5), 2)
        torch.set_num_threads(threads)
        print(f"Runner with 1 thread: {one:.1f} img/s; with {threads}: {runner:.1f} img/s "
              f"(ratio {runner / one:.2f}x)")


if __name__ == "__main__":
    main()
