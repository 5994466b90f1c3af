import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {r.replace(" ", "") for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    pip_lines = {line.strip()[2:].replace(" ", "") for line in lines[start + 1:] if line.strip().startswith("- ")}
    pip_lines.discard("-e.")
    assert pip_lines == wanted, f"environment.yml and pyproject.toml differ: {pip_lines ^ wanted}"
    assert "-e ." in (ROOT / "environment.yml").read_text()


def test_ci_calls_the_readme_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


def test_binder_environment_lists_the_course_packages():
    """binder/environment.yml: the same packages, but conda-forge's CPU-only torch and an exact Python."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {r.replace(" ", "") for r in project["dependencies"] + project["optional-dependencies"]["dev"]
              if not r.startswith(("torch>", "torchvision>"))}
    text = (ROOT / "binder" / "environment.yml").read_text()
    lines = text.splitlines()
    start = lines.index("  - pip:")
    pip_lines = {line.strip()[2:].replace(" ", "") for line in lines[start + 1:] if line.strip().startswith("- ")}
    assert pip_lines == wanted, pip_lines ^ wanted
    assert "  - python=3.11" in lines and "  - pytorch=*=cpu*" in lines
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_make_lab_is_the_make_free_command_and_opens_at_the_repository_root():
    lab = (ROOT / "Makefile").read_text().split("\nlab:")[1].split("\n\n")[0]
    assert "-m course_lib lab" in lab
    from course_lib.tools.launch import lab_command
    cmd = lab_command()
    assert f"--ServerApp.root_dir={ROOT}" in cmd and "--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb" in cmd


def test_ci_tries_the_make_free_path_in_a_fresh_environment():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "python3 -m venv .venv-nomake" in ci
    assert "-m course_lib lab --check" in ci and "-m course_lib test --units" in ci


def test_the_course_commands_without_make(capsys, tmp_path):
    from course_lib.tools import launch
    assert launch.main(["test", "--dry-run", "--no-e2e"]) == 0
    out = capsys.readouterr().out
    assert "pytest -q -n 2 tests --ignore=tests/e2e" in out and "--nbval-lax" in out and "tests/e2e" not in out.split("--ignore=tests/e2e")[1]
    assert launch.main(["lab", "--dry-run"]) == 0
    assert "00_start_here.ipynb" in capsys.readouterr().out
    path = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"other/plugin": {"x": 1}}')
    launch.write_lab_overrides(tmp_path)
    import json
    data = json.loads(path.read_text())
    assert data["other/plugin"] == {"x": 1}
    assert data["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_package_metadata_uses_an_spdx_license():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'license = "MIT"' in text and "setuptools>=77" in text


def test_make_lab_zh_opens_the_chinese_edition_with_a_chinese_lab(tmp_path, capsys):
    lab = (ROOT / "Makefile").read_text().split("\nlab-zh:")[1].split("\n\n")[0]
    assert "-m course_lib lab --lang zh" in lab
    from course_lib.tools import launch
    cmd = launch.lab_command(lang="zh")
    assert "--LabApp.default_url=/lab/tree/notebooks/zh/00_start_here.ipynb" in cmd
    assert f"--LabApp.user_settings_dir={launch.ZH_SETTINGS}" in cmd
    assert (ROOT / "notebooks" / "zh" / "00_start_here.ipynb").is_file()
    import json
    path = launch.write_zh_settings(tmp_path)
    assert json.loads(path.read_text()) == {"locale": "zh_CN"}
    assert path.relative_to(tmp_path).as_posix() == "@jupyterlab/translation-extension/plugin.jupyterlab-settings"
    import jupyterlab_language_pack_zh_CN  # noqa: F401  (a dependency of the course)
    assert launch.main(["lab", "--lang", "zh", "--dry-run"]) == 0
    assert "notebooks/zh/00_start_here.ipynb" in capsys.readouterr().out
