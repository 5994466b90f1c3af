# make lab   : create .venv if missing, install the course, open JupyterLab
# make test  : the same setup, then unit tests and every notebook under nbval (fast mode)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: lab test unit notebooks bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

test: $(STAMP)
	@start=$$(date +%s); \
	env -u MPLBACKEND COURSE_FAST=1 $(PY) -m pytest -q tests && \
	env -u MPLBACKEND COURSE_FAST=1 $(PY) -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg notebooks/ && \
	echo "make test: all passed in $$(( $$(date +%s) - start )) s"

unit: $(STAMP)
	env -u MPLBACKEND COURSE_FAST=1 $(PY) -m pytest -q tests

notebooks: $(STAMP)
	env -u MPLBACKEND COURSE_FAST=1 $(PY) -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg notebooks/

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py

clean:
	rm -rf $(VENV) *.egg-info
