"""The course's own tools: what builds and checks the course, for its authors, instructors and CI.

Learners' notebooks never import these; everything else in `course_lib` is what the notebooks use.

- `launch`: `python -m course_lib lab|test`, the course without `make` (setup, JupyterLab, the tests).
- `translate`: the Chinese edition, built from the English notebooks and the catalogs, and checked.
- `runtimes`: each notebook's measured run times, written into its header, slow-cell notes and the READMEs.
- `freeze`: a saved notebook's widgets frozen to their pictures, for readers who have not run it.
- `provenance`: `data/results/README.md`'s table from each results file's `meta`; `--compare` two runs.
- `site`: a static HTML site of the course, for reading without Python.
- `exercise_spread`: the seed-to-seed spread behind exercises 02.3 and 05.3 (`data/results/exercise_spread.json`).

Every file they write goes through `course_lib.files` (atomic writes; see its docstring).
"""
