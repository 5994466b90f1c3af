"""The course's experiments from the shell.

    python -m course_lib plain-vs-residual [--fast] [--seeds N] [--out results.json] [--force]
    python -m course_lib seed-setting      [--fast] [--seeds N] [--out results.json] [--force]
    python -m course_lib degradation       [--depths 8 14 20 ...] [--arms ...] [--fast] [--out ...]
    python -m course_lib budget            [--fast] [--seeds N] [--depths ...] [--out ...] [--resume]
    python -m course_lib photo-transfer    [--fast] [--seeds N] [--out ...]   (notebook 09, section 2)
    python -m course_lib landscape         [--fast] [--out ...]               (notebook 10, the depth-56 slices)
    python -m course_lib lab | test        (the course without make: course_lib/tools/launch.py)

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

from contextlib import nullcontext

from . import experiments as ex
from . import files, report
from .config import SettingError, check_settings, get_device, is_fast
from .models import check_depth


def _meta(argv: Sequence[str] | None) -> dict:
    cmd = "python -m course_lib " + " ".join(shlex.quote(a) for a in (argv or []))
    return {"command": cmd.strip(), "fast": is_fast(), "torch": torch.__version__,
            "device": str(get_device()), "threads": torch.get_num_threads(),
            "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")}


MAX_SEEDS = 100
# He et al. 2016 (§4.2, Table 6) trained CIFAR nets up to 1202 layers; nothing deeper is meaningful
# here, and a much deeper net takes minutes to build before its first step.
MAX_DEPTH = 1202


def _seed_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes a whole number >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--seeds takes a whole number >= 1, got {n}")
    if n > MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"--seeds takes at most {MAX_SEEDS}, got {n}: every seed trains "
                                         "every arm again, and 5 seeds already give a paired interval")
    return n


def _depth(text: str) -> int:
    try:
        depth = check_depth(int(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if depth > MAX_DEPTH:
        raise argparse.ArgumentTypeError(f"depth at most {MAX_DEPTH} (the deepest net of He et al. 2016, "
                                         f"Table 6), got {depth}")
    return depth


def _run(args, seeds) -> dict:
    """Run the chosen experiment, writing `--out` after every finished run; print its summary."""
    if args.experiment == "plain-vs-residual":
        results = ex.plain_vs_residual(seeds, out=args.out)
    elif args.experiment == "seed-setting":
        results = ex.seed_setting(seeds, out=args.out)
    elif args.experiment == "landscape":
        from . import probes
        results = probes.deep_landscape()
        for r in results["rows"]:
            print(f"{r['arm']}-56: final training error {r['final_train_error']:.2%}")
        return results
    elif args.experiment == "photo-transfer":
        import dataclasses

        from . import transfer
        from .pretrained import imagenet_resnet50
        p = transfer.preset()
        if seeds:
            p = dataclasses.replace(p, seeds=tuple(seeds))
        results = transfer.photo_transfer(imagenet_resnet50(), p)
        for line in transfer.comparisons(results):
            print(line)
        return results
    elif args.experiment == "budget":
        from . import budget
        cfg = budget.budget_config()
        if args.depths:
            cfg.depths = tuple(args.depths)
        results = budget.run(list(seeds or range(3)), cfg, out=args.out, resume=args.resume)
        for row in budget.steps_table(results):
            print(report.budget_line(row))
        return results
    else:
        results = ex.degradation(args.depths, seeds=seeds, arms=args.arms, use_bn=not args.no_bn,
                                 checkpoint=args.out)
    rows = ex.degradation_table(results) if args.experiment == "degradation" else ()
    for line in report.summary_lines(results, rows):
        print(line)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["lab"], ["test"]):                 # the course without make (course_lib/tools/launch.py)
        from .tools.launch import main as launch
        return launch(argv)
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="experiment", required=True)
    for name in ("plain-vs-residual", "seed-setting", "degradation", "budget", "photo-transfer", "landscape"):
        p = sub.add_parser(name)
        p.add_argument("--fast", action="store_true", help="tiny run that checks the code path (COURSE_FAST=1)")
        p.add_argument("--out", type=Path, default=None, help="where to write the JSON results")
        p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
        p.add_argument("--seeds", type=_seed_count, default=None, help="number of seeds (0, 1, ...)")
        p.add_argument("--load", default=None,
                       help="what else ran on the machine meanwhile, recorded as meta.load (e.g. 'quiet: nothing else ran')")
        if name == "degradation":
            p.add_argument("--depths", type=_depth, nargs="+", default=list(ex.DEPTHS))
            p.add_argument("--arms", nargs="+", choices=list(ex.SWEEP_ARMS), default=list(ex.DEFAULT_ARMS))
            p.add_argument("--no-bn", action="store_true", help="train without BatchNorm")
        if name == "budget":
            p.add_argument("--depths", type=_depth, nargs="+", default=None)
            p.add_argument("--resume", action="store_true",
                           help="keep the finished runs in --out and train only the missing ones")
    args = parser.parse_args(argv)
    try:
        check_settings()
    except SettingError as err:
        parser.error(str(err))
    for option in ("depths", "arms"):
        values = getattr(args, option, None) or []
        if len(set(values)) != len(values):
            parser.error(f"--{option} {' '.join(map(str, values))}: give each once (a repeat would "
                         "record the same run twice)")
    if args.out is not None:
        try:
            ex.check_out_path(args.out, args.force or getattr(args, "resume", False))   # before the run
        except OSError as err:
            parser.error(str(err))
    if args.fast:
        os.environ["COURSE_FAST"] = "1"
    seeds = range(args.seeds) if args.seeds else None
    if args.experiment not in ("budget", "photo-transfer", "landscape"):
        runs, seconds = ex.estimate(args.experiment, len(seeds) if seeds else None,
                                getattr(args, "depths", None), getattr(args, "arms", None))
        print(f"{args.experiment}: {runs} runs, estimated {report.format_seconds(seconds)} on a 2-core CPU "
              "(from the committed runs' timings)")
    start = time.perf_counter()
    try:
        with (files.claim(args.out) if args.out else nullcontext()):
            results = _run(args, seeds)
            results["meta"] = {**_meta(argv), "seconds": time.perf_counter() - start}
            if args.load:
                results["meta"]["load"] = args.load
            if args.out:
                print("wrote", ex.save_results(results, args.out, force=True))
    except files.FileBusyError as err:
        parser.error(str(err))
    except files.FileWriteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130                                        # the experiment said what was kept
    return 0


if __name__ == "__main__":
    sys.exit(main())
