"""Training speed of the degradation sweep's networks, per depth and arm, on this machine.

The sweep (notebook 08) trains `cifar_resnet(depth)` on 16×16 digits, batch 128. Its committed
per-run times were taken while the machine did other light work; this benchmark measures the
speed alone, so that a learner can predict the time of a run on a quiet machine:

    python benchmarks/bench_sweep_speed.py [--steps 12] [--out data/results/sweep_speed.json]

Each (depth, arm) is timed for `--steps` SGD steps after 3 warm-up steps. The predicted time of
one sweep run is (training images × epochs) / speed; it leaves out the evaluations (one pass
over the dev split per epoch and one over the training set at the end, forward only).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torch.nn as nn

from course_lib import files
from course_lib.experiments import DEFAULT_ARMS, DEPTHS, SWEEP_ARMS, degradation_config
from course_lib.models import cifar_resnet


def images_per_second(depth: int, arm_kwargs: dict, steps: int, batch: int = 128, size: int = 16) -> float:
    torch.manual_seed(0)
    model = cifar_resnet(depth, **arm_kwargs).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = torch.randn(batch, 1, size, size), torch.randint(0, 10, (batch,))
    for i in range(3 + steps):
        if i == 3:
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--load", default="not recorded",
                        help="what else ran on the machine meanwhile, for the results' meta (e.g. 'quiet: nothing else ran')")
    args = parser.parse_args()
    started = time.perf_counter()
    cfg = degradation_config()
    images = 4000 * cfg.num_epochs
    rows = []
    print(f"{'depth':>5s} {'arm':10s} {'img/s':>7s} {'predicted s/run':>15s}")
    for depth in DEPTHS:
        for arm in DEFAULT_ARMS:                   # SWEEP_ARMS holds each arm's cifar_resnet arguments
            speed = images_per_second(depth, SWEEP_ARMS[arm], args.steps)
            rows.append({"depth": depth, "arm": arm, "images_per_second": speed,
                         "predicted_seconds_per_run": images / speed})
            print(f"{depth:5d} {arm:10s} {speed:7.0f} {images / speed:15.0f}", flush=True)
    total = sum(r["predicted_seconds_per_run"] for r in rows) * 3
    print(f"predicted training time of the 3-seed sweep: {total / 60:.0f} min (without evaluations)")
    if args.out:
        files.write_bytes(args.out, (json.dumps({
            "rows": rows, "steps": args.steps, "batch": 128, "size": 16, "images_per_run": images,
            "predicted_sweep_seconds": total,
            "meta": {"command": f"python benchmarks/bench_sweep_speed.py --steps {args.steps} --out {args.out}",
                     "fast": False, "torch": torch.__version__, "device": "cpu", "threads": torch.get_num_threads(),
                     "machine": platform.machine(), "date": time.strftime("%Y-%m-%d"),
                     "seconds": time.perf_counter() - started, "load": args.load}}, indent=1) + "\n").encode())
        print("wrote", args.out)


if __name__ == "__main__":
    main()
