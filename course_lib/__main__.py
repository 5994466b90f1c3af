"""The course's experiments from the shell.

    python -m course_lib plain-vs-residual [--fast] [--seeds N] [--out results.json] [--force]
    python -m course_lib seed-setting      [--fast] [--seeds N] [--out results.json] [--force]
    python -m course_lib degradation       [--depths 8 14 20 ...] [--arms ...] [--fast] [--out ...]
    python -m course_lib lab | test        (the course without make: course_lib/launch.py)

(`python -m course_lib.experiments ...`, as the committed results record it, runs the same.)
`--out` is checked before anything trains, and an existing file is kept unless `--force`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from . import experiments as ex
from .config import get_device, is_fast
from .models import check_depth


def _meta(argv: Sequence[str] | None) -> dict:
    cmd = "python -m course_lib " + " ".join(shlex.quote(a) for a in (argv or []))
    return {"command": cmd.strip(), "fast": is_fast(), "torch": torch.__version__,
            "device": str(get_device()), "threads": torch.get_num_threads(),
            "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")}


def _seed_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes a whole number >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--seeds takes a whole number >= 1, got {n}")
    return n


def _depth(text: str) -> int:
    try:
        return check_depth(int(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["lab"], ["test"]):                 # the course without make (course_lib/launch.py)
        from .launch import main as launch
        return launch(argv)
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="experiment", required=True)
    for name in ("plain-vs-residual", "seed-setting", "degradation"):
        p = sub.add_parser(name)
        p.add_argument("--fast", action="store_true", help="tiny run that checks the code path (COURSE_FAST=1)")
        p.add_argument("--out", type=Path, default=None, help="where to write the JSON results")
        p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
        p.add_argument("--seeds", type=_seed_count, default=None, help="number of seeds (0, 1, ...)")
        if name == "degradation":
            p.add_argument("--depths", type=_depth, nargs="+", default=list(ex.DEPTHS))
            p.add_argument("--arms", nargs="+", choices=list(ex.SWEEP_ARMS), default=list(ex.DEFAULT_ARMS))
            p.add_argument("--no-bn", action="store_true", help="train without BatchNorm")
    args = parser.parse_args(argv)
    if args.out is not None:
        try:
            ex.check_out_path(args.out, args.force)          # before the run, not after it
        except OSError as err:
            parser.error(str(err))
    if args.fast:
        os.environ["COURSE_FAST"] = "1"
    seeds = range(args.seeds) if args.seeds else None
    start = time.perf_counter()
    if args.experiment == "plain-vs-residual":
        results = ex.plain_vs_residual(seeds)
        for arm, s in results["summary"].items():
            if arm in ex.ARMS:
                print(f"{arm:9s} test accuracy {s['test_acc_mean']:.4f} ± {s['test_acc_std']:.4f} (n={s['n']})")
        g = results["summary"]["gap"]
        print(f"gap (residual - plain, same seed): {g['mean']:+.4f}, 95% CI [{g['ci_low']:+.4f}, {g['ci_high']:+.4f}]")
    elif args.experiment == "seed-setting":
        results = ex.seed_setting(seeds)
        for design, d in results["designs"].items():
            s = d["summary"]
            print(f"{design:32s} plain {s['plain']['test_acc_mean']:.3f}  "
                  f"residual {s['residual']['test_acc_mean']:.3f}  gap {s['gap']['mean']:+.3f}")
    else:
        results = ex.degradation(args.depths, seeds=seeds, arms=args.arms, use_bn=not args.no_bn,
                              checkpoint=args.out)
        for row in ex.degradation_table(results):
            print(f"depth {row['depth']:3d} {row['arm']:10s} final train error "
                  f"{row['mean']:.4f} ± {row['std']:.4f} (n={row['n']}, {row['seconds']:.0f} s per run)")
    results["meta"] = {**_meta(argv), "seconds": time.perf_counter() - start}
    if args.out:
        print("wrote", ex.save_results(results, args.out, force=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
