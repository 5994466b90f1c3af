"""What PyTorch offers on a CPU, for the course's own training runs, measured side by side in one run.

Two workloads, the ones the notebooks train:
- ResNet-18 (ImageNet stem, 1×32×32 digits, batch 64): notebook 07's plain-vs-residual runs;
- cifar_resnet(20) (16×16 digits, batch 128): the degradation sweep, the depth explorer and notebook 10.

For each, training throughput (images/s, SGD with momentum, after warm-up steps) with: the default
(float32, every core), one thread, `channels_last`, bf16 autocast, `torch.compile`, and other batch
sizes; each as a ratio to the default measured in this run. The FLOP rate training reaches is
compared with a dense matmul on the same machine (float32 and bf16). "Comparable" is checked too:
the loss of each option's first steps against the default's, same seed and batches.

    python benchmarks/bench_cpu_options.py [--steps 20] [--warmup 4] [--no-compile]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch
import torch.nn as nn

from course_lib import seed_everything
from course_lib.models import cifar_resnet, resnet18
from course_lib.profiling import conv_linear_macs

WORKLOADS = {
    "resnet18 1×32×32 (notebook 07)": (lambda: resnet18(1, 10), (1, 32, 32), 64),
    "cifar_resnet(20) 1×16×16 (sweep, explorer, notebook 10)": (lambda: cifar_resnet(20), (1, 16, 16), 128),
}


def matmul_gflops(dtype=torch.float32, size: int = 2048, reps: int = 8) -> float:
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * size ** 3 * reps / (time.perf_counter() - start) / 1e9


def train_steps(make, shape, batch: int, steps: int, warmup: int, channels_last=False, bf16=False,
                compile_model=False) -> tuple[float, list[float], float]:
    """(images/s over the timed steps, the losses of every step, seconds spent before the first
    timed step, compilation included)."""
    seed_everything(0)
    model = make()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(batch, *shape, generator=g), torch.randint(0, 10, (batch,), generator=g))
               for _ in range(4)]
    step_fn = model
    if compile_model:
        step_fn = torch.compile(model)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    begin = time.perf_counter()
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
            setup = start - begin
        x, y = batches[i % len(batches)]
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            loss = loss_fn(step_fn(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return steps * batch / (time.perf_counter() - start), losses, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (it compiles for minutes)")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, {args.steps} timed steps after {args.warmup} warm-up steps")
    peak32, peak16 = matmul_gflops(), matmul_gflops(torch.bfloat16)
    print(f"dense 2048² matmul: float32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s "
          f"(ratio {peak16 / peak32:.2f}×)")
    for name, (make, shape, batch) in WORKLOADS.items():
        flops = 3 * 2 * conv_linear_macs(make(), shape)             # forward + backward ≈ 3 forwards
        base, base_losses, _s = train_steps(make, shape, batch, args.steps, args.warmup)
        print(f"\n{name}, batch {batch}: default {base:.0f} img/s = {base * flops / 1e9:.0f} GFLOP/s, "
              f"{base * flops / 1e9 / peak32:.0%} of the float32 matmul rate")
        options = [("channels_last", dict(channels_last=True)), ("bf16 autocast", dict(bf16=True))]
        if not args.no_compile:
            options.append(("torch.compile", dict(compile_model=True)))
        for label, kw in options:
            try:
                rate, losses, setup = train_steps(make, shape, batch, args.steps, args.warmup, **kw)
            except Exception as err:                                 # noqa: BLE001 - report, go on
                print(f"  {label:15s} failed: {type(err).__name__}: {str(err).splitlines()[0][:100]}")
                continue
            diff = max(abs(a - b) for a, b in zip(losses, base_losses))
            extra = f", {setup:.0f} s before the first timed step" if label == "torch.compile" else ""
            print(f"  {label:15s} {rate:7.0f} img/s  ratio {rate / base:.2f}×  largest loss difference over "
                  f"{len(losses)} steps {diff:.2e}{extra}")
        for other in (batch // 2, batch * 2):
            rate, _l, _s = train_steps(make, shape, other, args.steps, args.warmup)
            print(f"  batch {other:<9d} {rate:7.0f} img/s  ratio {rate / base:.2f}× (images per second)")
        if threads > 1:
            torch.set_num_threads(1)
            rate, _l, _s = train_steps(make, shape, batch, args.steps, args.warmup)
            torch.set_num_threads(threads)
            print(f"  1 thread        {rate:7.0f} img/s  ratio {rate / base:.2f}× (the default uses {threads})")


if __name__ == "__main__":
    main()
