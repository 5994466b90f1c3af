"""Text for people: plain-text tables, durations, progress lines, and the summary lines the
command line prints for each experiment's results.
"""

from __future__ import annotations

from .i18n import _

from typing import Sequence

def format_table(rows: Sequence[Sequence], headers: Sequence[str]) -> str:
    """A plain-text table with aligned columns (numbers with thousands separators)."""
    def fmt(v):
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) if c[:1].isdigit() or c[:1] == "-" else c.ljust(w)
                      for c, w in zip(r, widths)) for r in cells]
    return "\n".join(out)


def format_seconds(seconds: float) -> str:
    """42 s, 3 min 05 s, 1 h 02 min."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_line(done: int, total: int, elapsed: float, what: str = "") -> str:
    """"run k of n (what); elapsed ...; about ... left" with the estimate from the runs so far."""
    line = ((_("run {k} of {n} ({what}); elapsed {elapsed}") if what else _("run {k} of {n}; elapsed {elapsed}"))
            .format(k=done + 1, n=total, what=what, elapsed=format_seconds(elapsed)))
    if done:
        line += _(", about {left} left (estimated from the runs so far)").format(
            left=format_seconds(elapsed / done * (total - done)))
    return line


def summary_lines(results: dict, sweep_rows: Sequence[dict] = ()) -> list[str]:
    """What `python -m course_lib` prints at the end of an experiment, one line per row; for the
    degradation sweep, `sweep_rows` are `experiments.degradation_table(results)`."""
    if results["experiment"] == "plain-vs-residual":
        lines = [f"{arm:9s} test accuracy {s['test_acc_mean']:.4f} ± {s['test_acc_std']:.4f} (n={s['n']})"
                 for arm, s in results["summary"].items() if arm != "gap"]
        g = results["summary"]["gap"]
        return lines + [f"gap (residual - plain, same seed): {g['mean']:+.4f}, "
                        f"95% CI [{g['ci_low']:+.4f}, {g['ci_high']:+.4f}]"]
    if results["experiment"] == "seed-setting":
        return [f"{design:32s} plain {d['summary']['plain']['test_acc_mean']:.3f}  "
                f"residual {d['summary']['residual']['test_acc_mean']:.3f}  gap {d['summary']['gap']['mean']:+.3f}"
                for design, d in results["designs"].items()]
    lines = [f"depth {row['depth']:3d} {row['arm']:10s} final train error "
             f"{row['mean']:.4f} ± {row['std']:.4f} (n={row['n']}, {row['seconds']:.0f} s per run)"
             for row in sweep_rows]
    return lines + [f"depth {run['depth']:3d} {run['arm']:10s} seed {run['seed']}: diverged ({run['message']})"
                    for run in results.get("diverged", [])]


def budget_line(row: dict) -> str:
    """One depth of `budget.steps_table`: the steps each arm took to reach the threshold."""
    def steps(values):
        return ", ".join(str(v) if v is not None else f">{row['cap']}" for v in values)
    line = _("depth {depth:3d}: steps to {t:.0%} training error, plain [{p}], residual [{r}]").format(
        depth=row["depth"], t=row["threshold"], p=steps(row["plain"]), r=steps(row["residual"]))
    ci = row.get("log2_ratio")
    if ci and ci["n"] > 1:
        line += _("; plain/residual ×{m:.1f}, 95% CI ×{lo:.1f} to ×{hi:.1f} (paired, {n} seeds)").format(
            m=2 ** ci["mean"], lo=2 ** ci["ci_low"], hi=2 ** ci["ci_high"], n=ci["n"])
    return line
