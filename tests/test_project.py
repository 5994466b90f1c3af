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


def test_make_lab_trusts_and_opens_at_the_repository_root():
    lab = (ROOT / "Makefile").read_text().split("\nlab:")[1].split("\n\n")[0]
    assert "jupyter trust notebooks/*.ipynb" in lab
    assert '--ServerApp.root_dir="$(CURDIR)"' in lab and "default_url=/lab/tree/notebooks/00_start_here.ipynb" in lab
