"""A headless JupyterLab on 127.0.0.1, isolated from the user's configuration, for the e2e test."""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    yield from _lab(tmp_path_factory.mktemp("jupyter"), {})


@pytest.fixture(scope="session")
def lab_zh(tmp_path_factory):
    """A second JupyterLab whose UI language is Chinese (the zh_CN language pack), as `make lab-zh` sets it."""
    yield from _lab(tmp_path_factory.mktemp("jupyter-zh"), {"@jupyterlab/translation-extension/plugin": '{"locale": "zh_CN"}'})


def _lab(home, extra_settings: dict):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make test-e2e`, which installs it")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(COURSE_FAST="1", JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               IPYTHONDIR=str(home / "ipython"))
    # Never autosave (the committed notebooks must keep their full-mode outputs); no news prompt.
    settings = home / "settings"
    for plugin, value in [("@jupyterlab/docmanager-extension/plugin", '{"autosave": false}'),
                          ("@jupyterlab/apputils-extension/notification", '{"fetchNews": "false", "checkForUpdates": false}'),
                          *extra_settings.items()]:
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={ROOT}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")                      # CI containers run as root
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"{home.name}.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited early; see {ARTIFACTS / (home.name + '.log')}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield {"base": base, "token": token, "port": port}
    finally:                                  # shut the server down, even when a test failed
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """Both editions of the static site, built once for every site test: (folder, the pages written)."""
    from course_lib.tools.site import build_site

    out = tmp_path_factory.mktemp("site")
    return out, build_site(out, log=lambda line: None)
