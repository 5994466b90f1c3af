"""Issue 27: the course's own tools. Each probe of the fault hunt is a test here (the closing note maps
probe -> test -> fix): writes through `files.py`, validated catalogs, records that follow git, locks,
command lines, `BackgroundRun` misuse and checks that blame the right party."""

import errno
import json
import math
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

import course_lib
from course_lib import assets, checks, config, explorer, experiments, files, i18n
from course_lib.tools import freeze, provenance, runtimes, translate

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(course_lib.__file__).parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _limited(cmd: list[str], limit: int, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run `cmd` with a file-size limit (RLIMIT_FSIZE, bytes): a write past it fails with EFBIG."""
    def cap():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run(cmd, preexec_fn=cap, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300)


# ============================================================== 1. one home; 2. every write through files.py
def test_the_tools_live_in_their_own_subpackage_and_notebooks_never_import_them():
    tools = {p.stem for p in (PACKAGE / "tools").glob("*.py")} - {"__init__"}
    assert tools == {"launch", "translate", "runtimes", "freeze", "provenance", "site", "exercise_spread"}
    assert not any((PACKAGE / f"{name}.py").exists() for name in tools)
    for nb in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("notebooks/zh/*.ipynb")]:
        code = "".join("".join(c["source"]) for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
                       if c["cell_type"] == "code")
        assert "course_lib.tools" not in code and "from course_lib import tools" not in code, nb.name


def test_checks_spread_no_longer_imports_the_exercise_checks():
    """The circle checks/spread <-> checks/nb02, nb05 is broken: the measuring moved to the tools."""
    source = (PACKAGE / "checks" / "spread.py").read_text(encoding="utf-8")
    assert "nb02" not in source and "nb05" not in source


def test_no_module_writes_a_file_except_through_files():
    """Probe: snapshot, translate, runtimes and provenance wrote with write_text (a file-size limit cut
    notebook 08 at 512 KiB). Only files.py opens files for writing; launch.py (standard library
    only, it runs before the requirements are installed) keeps its own atomic writer; assets.py
    converts a package into a temporary folder (`out / …`) that is swapped in whole."""
    import re

    method = re.compile(r"([\w)\]]+)\.write_(?:text|bytes)\(")       # path.write_text(…), not files.write_text(…)
    opened = re.compile(r"\bopen\([^)]*['\"][wax]")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("files.py", "launch.py"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("  #")[0]
            bad = [m for m in method.findall(code) if m != "files"] or opened.search(code)
            if bad and not (path.name == "assets.py" and "(out / " in code):
                offenders.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert offenders == []


def test_freeze_under_a_file_size_limit_leaves_the_notebook_whole(tmp_path):
    """Probe: `python -m course_lib.snapshot notebooks/08_depth_explorer.ipynb` under a 512 KiB limit
    left notebook 08 cut; now the write fails and the old notebook is whole."""
    nb = tmp_path / "08.ipynb"
    shutil.copy(ROOT / "notebooks" / "08_depth_explorer.ipynb", nb)
    padded = json.loads(nb.read_text(encoding="utf-8"))
    padded["metadata"]["padding"] = "x" * 600_000                # bigger than the limit once rewritten
    nb.write_text(json.dumps(padded), encoding="utf-8")
    before = nb.read_bytes()
    done = _limited([sys.executable, "-m", "course_lib.tools.freeze", str(nb)], 512 * 1024 + len(before) // 2)
    assert done.returncode == 1 and "could not write" in done.stderr and "Traceback" not in done.stderr
    assert nb.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(files.TMP_SUFFIX)]


def test_write_text_is_atomic_and_skips_unchanged_content(tmp_path, monkeypatch):
    path = tmp_path / "a.md"
    files.write_text(path, "old\n")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EFBIG, "File too large")))
    with pytest.raises(files.FileWriteError, match="could not write"):
        files.write_text(path, "new\n")
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]
    files.write_text(path, "old\n")                        # unchanged: nothing written, no error
    assert not files.record_path(path).exists()           # tracked text gets no record


def test_permissions_and_symlinks_are_kept(tmp_path):
    """Probes: results rewritten 0644 -> 0600; an --out symlink replaced by a file."""
    out = tmp_path / "r.json"
    files.save_results({"a": 1}, out)
    os.chmod(out, 0o644)
    files.save_results({"a": 2}, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    new = tmp_path / "new.json"
    files.save_results({"a": 1}, new)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~files._umask()
    real = tmp_path / "real.json"
    files.save_results({"a": 1}, real)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    files.save_results({"a": 3}, link)
    assert link.is_symlink() and json.loads(real.read_text()) == {"a": 3}


def test_nan_is_refused_by_write_json_and_written_as_null_in_results(tmp_path):
    """Probe: NaN written into JSON (which has no NaN)."""
    with pytest.raises(ValueError, match=r"NaN or infinity at \['runs'\]\[0\]\['ci'\]"):
        files.write_json(tmp_path / "x.json", {"runs": [{"ci": float("nan")}]})
    assert not (tmp_path / "x.json").exists()
    files.save_results({"ci": [float("nan"), 1.0, float("inf")]}, tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text and json.loads(text) == {"ci": [None, 1.0, None]}


# ============================================================== 3. catalogs validated
def _broken_catalogs(tmp_path) -> dict[str, Path]:
    src = i18n.catalog_path("zh").read_text(encoding="utf-8")
    lines = src.split("\n")
    i = next(k for k, line in enumerate(lines) if k > 20 and line.startswith('msgstr "') and "{" in line)
    out = {}

    def save(name, new_lines=None, data=None):
        path = tmp_path / f"{name}.po"
        path.write_bytes(data if data is not None else "\n".join(new_lines).encode("utf-8"))
        out[name] = path
    save("unterminated", lines[:i] + [lines[i].rstrip('"')] + lines[i + 1:])
    save("renamed", lines[:i] + [lines[i].replace("{", "{x", 1)] + lines[i + 1:])
    save("stray", lines[:i] + [lines[i][:-1] + '}"'] + lines[i + 1:])
    save("conflict", lines[:i] + ["<<<<<<< HEAD"] + lines[i:])
    save("utf8", data=src.encode()[:5000] + b"\xff\xfe" + src.encode()[5000:])
    return out


@pytest.mark.parametrize("name,pattern", [
    ("unterminated", r"unterminated\.po:\d+: an unterminated or malformed string"),
    ("renamed", r"renamed\.po:\d+: the translation's placeholders \['x"),
    ("stray", r"stray\.po:\d+: the translation's braces are unbalanced"),
    ("conflict", r"conflict\.po:\d+: a merge-conflict marker"),
    ("utf8", r"utf8\.po:\d+: not valid UTF-8"),
])
def test_a_broken_catalog_is_named_with_file_and_line(tmp_path, name, pattern):
    problems = i18n.catalog_problems(_broken_catalogs(tmp_path)[name])
    assert problems and __import__("re").match(pattern, Path(problems[0]).name + problems[0].split(".po", 1)[1]), problems


def test_the_committed_catalogs_are_valid_and_msgfmt_agrees_where_it_is_installed(tmp_path):
    for path in [*translate.CATALOGS.glob("*.po"), i18n.catalog_path("zh")]:
        assert i18n.catalog_problems(path, formats=path.name == "course_lib.po") == [], path.name
    if shutil.which("msgfmt"):                     # the strictness claim, against msgfmt itself
        for name, path in _broken_catalogs(tmp_path).items():
            ours = i18n.catalog_problems(path, formats=False)
            theirs = subprocess.run(["msgfmt", "-c", "-o", os.devnull, str(path)], capture_output=True).returncode
            if theirs != 0:
                assert ours, f"msgfmt -c refuses {name}.po but catalog_problems does not"


def test_translate_refuses_to_build_from_a_broken_catalog(tmp_path, monkeypatch, capsys):
    """Probe: an unterminated msgstr was built and shipped ("未结束# 01…") and check passed."""
    cats = tmp_path / "cats"
    shutil.copytree(translate.CATALOGS, cats)
    text = (cats / "01_why_depth_is_hard.po").read_text(encoding="utf-8").split("\n")
    k = next(i for i, line in enumerate(text) if i > 20 and line.startswith('msgstr "') and len(line) > 12)
    text[k] = text[k].rstrip('"')
    (cats / "01_why_depth_is_hard.po").write_text("\n".join(text), encoding="utf-8")
    monkeypatch.setattr(translate, "CATALOGS", cats)
    monkeypatch.setattr(translate, "OUT", tmp_path / "zh")
    for command in ("build", "check", "extract"):
        assert translate.main([command]) == 1
        err = capsys.readouterr().err
        assert f"01_why_depth_is_hard.po:{k + 1}: an unterminated or malformed string" in err and "nothing was written" in err
    assert not (tmp_path / "zh").exists()
    assert [p for p in translate.check() if "unterminated" in p]


def test_the_runtime_falls_back_to_english_with_one_warning(tmp_path, monkeypatch):
    """Probe: invalid UTF-8 in course_lib.po made every message raise UnicodeDecodeError."""
    bad = _broken_catalogs(tmp_path)["utf8"]
    monkeypatch.setattr(i18n, "catalog_path", lambda lang, domain=i18n.DOMAIN: bad)
    i18n._catalog.cache_clear()
    i18n._WARNED.clear()
    try:
        with i18n.using("zh"), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert i18n._("the output does not change") == "the output does not change"
            assert i18n._("plain") == "plain"
        assert len([w for w in caught if "catalog is damaged" in str(w.message)]) == 1
    finally:
        i18n._catalog.cache_clear()


# ============================================================== 4. records that follow git
def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def test_a_results_file_restored_by_git_loads(tmp_path):
    """Probe: after a run rewrote a committed results file and `git checkout --` restored it, the
    git-ignored record refused it for good."""
    _git("init", "-q", cwd=tmp_path)
    out = tmp_path / "degradation.json"
    out.write_text(json.dumps({"runs": [1]}, indent=1))
    _git("add", "degradation.json", cwd=tmp_path)
    _git("commit", "-qm", "results", cwd=tmp_path)
    files.save_results({"runs": [2]}, out, force=True)
    assert files.record_path(out).exists()
    _git("checkout", "--", "degradation.json", cwd=tmp_path)
    assert files.load_results(out) == {"runs": [1]}
    assert not files.record_path(out).exists()                      # git guards it again
    out.write_text(json.dumps({"runs": [3]}))                        # an edit git does not hold
    files.write_bytes(out, out.read_bytes())
    out.write_text(json.dumps({"runs": [4]}))
    with pytest.raises(files.DamagedFileError, match="no longer matches"):
        files.load_results(out)


def test_a_crash_between_record_and_replace_never_trusts_a_flipped_bit(tmp_path, monkeypatch):
    """Probe: kill -9 between the record's removal and the rewrite, then a flipped bit, loaded."""
    path = tmp_path / "w.bin"
    files.write_bytes(path, b"old weights")
    real_replace = os.replace

    def crash(src, dst):
        if Path(dst) == path:
            raise KeyboardInterrupt                                # the process dies right here
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        files.write_bytes(path, b"new weights")
    monkeypatch.setattr(os, "replace", real_replace)
    assert files.read_bytes(path, "fix") == b"old weights"          # the record lists old and new
    path.write_bytes(b"old weightz")
    with pytest.raises(files.DamagedFileError):
        files.read_bytes(path, "fix")


def test_checkpoints_and_caches_without_their_record_are_unverified(tmp_path):
    """Probe: a deleted feature-cache record let zeroed features be used."""
    from course_lib.models import cifar_resnet
    from course_lib.training import CheckpointError, load_checkpoint, save_checkpoint
    path = save_checkpoint(cifar_resnet(8), tmp_path / "c.pt")
    files.record_path(path).unlink()
    with pytest.raises(CheckpointError, match="has no integrity record"):
        load_checkpoint(path)
    with pytest.raises(files.UnverifiedFileError):
        files.read_bytes(path, "fix", required=True)


def test_a_full_disk_at_a_checkpoint_is_a_clear_error(tmp_path, monkeypatch):
    """Probe: save_checkpoint on a full tmpfs raised PyTorch's RuntimeError "unexpected pos"."""
    from course_lib.models import cifar_resnet
    from course_lib.training import CheckpointError, save_checkpoint
    real_write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", lambda fd: full(fd, b""))
    with pytest.raises(CheckpointError, match="the disk is full"):
        save_checkpoint(cifar_resnet(8), tmp_path / "c.pt")
    assert list(tmp_path.iterdir()) == []
    del real_write


# ============================================================== 5. locks
def test_six_processes_taking_over_a_stale_lock_give_one_holder(tmp_path):
    """Probe: taking over a stale lock was check-then-unlink: with 6 processes, 5 held it."""
    out = tmp_path / "sweep.json"
    files.lock_path(out).write_text(json.dumps({"pid": 999_999_999, "host": "here"}))
    script = textwrap.dedent(f"""
        import time
        from course_lib import files
        try:
            with files.claim({str(out)!r}):
                print("held", flush=True)
                time.sleep(3)
        except files.FileBusyError:
            print("busy", flush=True)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=ENV)
             for _i in range(6)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(outputs) == ["busy"] * 5 + ["held"], outputs
    assert not files.lock_path(out).exists()


@pytest.mark.parametrize("content", ["123", "[1, 2]", '{"pid": "abc"}', "", "\xff garbage"])
def test_a_malformed_lock_file_is_no_traceback(tmp_path, content):
    """Probe: a lock file holding 123, [1,2] or {"pid":"abc"} was an AttributeError/ValueError."""
    out = tmp_path / "r.json"
    files.lock_path(out).write_text(content, errors="replace")
    with files.claim(out):                                         # nobody holds it: taken
        pass
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time, fcntl, os
        fd = os.open({str(files.lock_path(out))!r}, os.O_CREAT | os.O_RDWR)
        os.write(fd, {content.encode('utf-8', 'replace')!r})
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        time.sleep(30)""")], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(files.FileBusyError, match=r"r.json is being written by (another run \(its lock .* does not say which\)|process)"):
            with files.claim(out):
                pass
    finally:
        holder.kill()
        holder.wait()


# ============================================================== 6. command lines
@pytest.mark.parametrize("module,args", [("course_lib.tools.runtimes", ["--chek"]), ("course_lib.tools.runtimes", ["--help"]),
                                         ("course_lib.tools.provenance", ["--chek"]), ("course_lib.tools.freeze", ["--help"]),
                                         ("course_lib.tools.translate", ["--help"]), ("course_lib.tools.site", ["--bogus"]),
                                         ("course_lib.tools.exercise_spread", ["--seeds", "0"]), ("course_lib", ["--help"])])
def test_command_lines_refuse_unknown_flags_and_write_nothing(module, args):
    """Probe: `python -m course_lib.runtimes --chek` (or --help) ran the writer and rewrote 3 files."""
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, env=ENV,
                          timeout=120)
    assert done.returncode == (0 if args == ["--help"] else 2), done.stderr
    assert "Traceback" not in done.stderr and ("usage:" in done.stdout + done.stderr)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout == before


def test_a_timing_whose_idle_precedes_busy_is_no_negative_time():
    """Probe: such a cell wrote "-218218745 s" into the README."""
    cell = {"cell_type": "code", "metadata": {"execution": {"iopub.status.busy": "2026-12-06T10:00:00.000000Z",
                                                            "iopub.status.idle": "2020-01-01T00:00:00.000000Z"}}}
    assert runtimes.cell_seconds(cell) is None
    assert runtimes.notebook_seconds({"cells": [cell]}) is None
    cell["metadata"]["execution"]["iopub.status.idle"] = "not a time"
    assert runtimes.cell_seconds(cell) is None


def test_provenance_compare_checks_integrity_and_reads_every_results_file(tmp_path, capsys):
    """Probes: --compare skipped the integrity check (a flipped bit gave "largest difference 0.800")
    and raised KeyError on the degradation and seed-setting files."""
    for name in ("degradation", "seed_setting", "budget", "plain_vs_residual"):
        path = ROOT / "data" / "results" / f"{name}.json"
        assert provenance.main(["--compare", str(path), str(path)]) == 0
        assert "runs in common; largest" in capsys.readouterr().out
    copy = tmp_path / "p.json"
    files.write_bytes(copy, (ROOT / "data" / "results" / "plain_vs_residual.json").read_bytes())
    data = bytearray(copy.read_bytes())
    at = data.index(b'"test_acc": 0.') + len(b'"test_acc": 0.')
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    copy.write_bytes(bytes(data))
    assert provenance.main(["--compare", str(ROOT / "data" / "results" / "plain_vs_residual.json"), str(copy)]) == 1
    assert "is damaged" in capsys.readouterr().err
    (tmp_path / "x.json").write_text("{}")
    assert provenance.main(["--compare", str(tmp_path / "x.json"), str(tmp_path / "x.json")]) == 1
    assert "holds no runs" in capsys.readouterr().err


@pytest.mark.parametrize("variable,value,pattern", [
    ("COURSE_DEVICE", "gpu", "unknown device COURSE_DEVICE='gpu': use cpu, cuda"),
    ("COURSE_DATA_DIR", "/no/such/folder", "COURSE_DATA_DIR='/no/such/folder' is not a folder"),
    ("COURSE_FAST", "maybe", "COURSE_FAST='maybe': use 1"),
    ("COURSE_LANG", "fr", "COURSE_LANG='fr': use en"),
])
def test_environment_variables_are_validated_by_name(variable, value, pattern):
    """Probes: COURSE_DEVICE=gpu and a missing COURSE_DATA_DIR were tracebacks."""
    done = subprocess.run([sys.executable, "-m", "course_lib", "plain-vs-residual", "--fast", "--seeds", "1"],
                          cwd=ROOT, capture_output=True, text=True, env={**ENV, variable: value}, timeout=120)
    assert done.returncode == 2 and pattern in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(config.SettingError, match=__import__("re").escape(pattern)):
        config.check_settings({variable: value})


def test_an_out_path_below_a_file_is_named(capsys):
    """Probe: `--out /etc/passwd/x.json` said "(File exists)"."""
    from course_lib.__main__ import main
    with pytest.raises(SystemExit):
        main(["degradation", "--fast", "--out", "/etc/passwd/x.json"])
    assert "/etc/passwd is a file, not a folder" in capsys.readouterr().err


# ============================================================== 7. BackgroundRun, bounds, assets, checks
def test_background_run_misuse_is_said():
    """Probes: stop() before start() dropped; join() before start() blocked for ever; work raising
    SystemExit left result and error both None."""
    run = explorer.BackgroundRun()
    with pytest.warns(RuntimeWarning, match="stop\\(\\) before start\\(\\)"):
        assert run.stop() is False
    with pytest.raises(RuntimeError, match="join\\(\\) before start\\(\\)"):
        run.join(0.1)
    assert run.start(lambda stop, log: (_ for _ in ()).throw(SystemExit(3)))
    assert run.join(10)
    assert isinstance(run.error, SystemExit) and run.result is None


@pytest.mark.parametrize("steps", [-5, 0, float("nan"), 2.5, True])
def test_train_now_verdict_refuses_impossible_steps(steps):
    """Probe: -5 or NaN steps said "ok, about nan s"."""
    with pytest.raises(ValueError, match="num_steps must be a whole number"):
        explorer.train_now_verdict(8, steps, rate=1e-6)


def test_short_run_with_zero_steps_is_refused():
    """Probe: short_run(num_steps=0) ran 20 steps."""
    from course_lib.models import cifar_resnet
    with pytest.raises(ValueError, match="num_steps must be a whole number of steps, 1 or more"):
        experiments.short_run(cifar_resnet(8), num_steps=0)


def test_a_killed_fetch_leaves_nothing_behind_and_a_set_aside_copy_comes_back(tmp_path, monkeypatch):
    """Probes: `assets fetch` killed mid-way left 11-64 MB temporary folders for ever; a crash right
    after the old cache was removed lost the asset."""
    monkeypatch.setattr(assets, "CACHE_DIR", tmp_path)
    asset = assets.ASSETS["mnist-full"]
    dead = 999_999_999
    (tmp_path / f".{asset.name}.{dead}.abc123").mkdir()
    (tmp_path / f".{asset.name}.{dead}.abc123" / "big").write_bytes(b"x" * 1000)
    (tmp_path / f".{asset.name}.{os.getpid()}.live").mkdir()          # a fetch still running: kept
    (tmp_path / f".{asset.name}.{dead}.old").mkdir()
    (tmp_path / f".{asset.name}.{dead}.old" / "MANIFEST.json").write_text("{}")
    removed = assets.tidy(asset)
    assert [p.name for p in removed] == [f".{asset.name}.{dead}.abc123"]
    assert (asset.folder / "MANIFEST.json").exists()                  # the set-aside copy is back
    assert (tmp_path / f".{asset.name}.{os.getpid()}.live").exists()


def test_checks_blame_the_learner_for_the_learners_mistakes():
    """Probes: a value instead of a function said "This is a fault of the course … report it"; a
    learner's SystemExit escaped; a NameError in a factory was reported as _LearnerError."""
    with pytest.raises(checks.CheckFailed, match=r"expects a function \(or class\) to call; you passed a value of type tuple"):
        checks.check_paired_interval((0.01, -0.01, 0.03))

    def exits(*args):
        raise SystemExit(3)

    def factory(*args):
        return undefined_name  # noqa: F821

    for check in (checks.check_paired_interval, checks.check_stage, checks.check_resblock):
        with pytest.raises(checks.CheckFailed, match="Your code raised SystemExit"):
            check(exits)
        with pytest.raises(checks.CheckFailed, match="Your code raised NameError: name 'undefined_name'") as info:
            check(factory)
        assert "_LearnerError" not in str(info.value)
        line = factory.__code__.co_firstlineno + 1
        assert f"(in factory, line {line})" in str(info.value)          # the learner's own line


# ============================================================== 8. tests independent of load
def test_the_explorer_speed_is_injected_in_tests_never_measured(monkeypatch):
    """Probe: on a busy machine the measured speed made depth 8 × 400 steps look longer than 90 s."""
    monkeypatch.setattr(explorer.SpeedMeter, "measure", lambda self, *a, **k: pytest.fail("measured in a test"))
    assert explorer.train_now_verdict(8, 400)[0] == "ok"
    assert explorer.SPEED.current()[0] == explorer.SECONDS_PER_IMAGE_LAYER
