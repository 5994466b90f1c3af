"""Measure the seed-to-seed spread that exercises 02.3 and 05.3 compare a learner's run with
(`course_lib.checks.spread` reads it):

    python -m course_lib.tools.exercise_spread --seeds 10 --out data/results/exercise_spread.json

It runs the exercises' own reference runs (the functions the checks compare with) once per seed.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from ..checks.nb02 import identity_race
from ..checks.nb05 import zero_gamma_losses
from ..checks.spread import SPREAD_FILE
from ..config import is_fast
from ..files import write_json


def measure(seeds: list[int]) -> dict:
    """Run the reference runs of 02.3 and 05.3 for each seed."""
    race = {"residual": [], "plain": []}
    gamma = {"default γ = 1": [], "zero γ": []}
    for seed in seeds:
        for arm, use_residual in (("residual", True), ("plain", False)):
            race[arm].append(identity_race(use_residual, seed=seed)[-1])
        for arm, zero_init in (("default γ = 1", False), ("zero γ", True)):
            gamma[arm].append(zero_gamma_losses(zero_init, seed=seed)[-1])
        print(f"seed {seed}: race {race['residual'][-1]:.4g} / {race['plain'][-1]:.4g}, "
              f"zero γ {gamma['default γ = 1'][-1]:.4g} / {gamma['zero γ'][-1]:.4g}", flush=True)
    return {"02.3": {"what": "loss after 150 steps", "seeds": seeds, "arms": race},
            "05.3": {"what": "loss at step 29", "seeds": seeds, "arms": gamma}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.tools.exercise_spread", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, choices=range(2, 51), metavar="N",
                        help="seeds 0 … N-1 (2 to 50; 60 s for 10 seeds on a quiet 2-core CPU, measured)")
    parser.add_argument("--out", type=Path, default=SPREAD_FILE)
    parser.add_argument("--load", default="not recorded",
                        help="what else ran on the machine meanwhile, for the file's meta (e.g. 'quiet: nothing else ran')")
    args = parser.parse_args(argv)
    start = time.time()
    result = measure(list(range(args.seeds)))
    result["meta"] = {"command": "python -m course_lib.tools.exercise_spread " + shlex.join(sys.argv[1:] if argv is None else argv),
                      "fast": is_fast(), "torch": torch.__version__, "device": "cpu",
                      "threads": torch.get_num_threads(), "machine": platform.machine(),
                      "date": time.strftime("%Y-%m-%d"), "seconds": round(time.time() - start, 1), "load": args.load}
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
