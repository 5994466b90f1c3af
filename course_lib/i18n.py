"""The learner's language: gettext catalogs, English as the fallback.

Every sentence `course_lib` shows a learner (check results and hints, `check_environment()`,
verdicts, progress-bar labels, widget labels, loader errors) goes through `_`:

    raise CheckFailed(_("{case}: output shape {got}, expected {want}.").format(case=case, got=..., want=...))

The message ids are the English sentences; `course_lib/locale/<lang>/LC_MESSAGES/course_lib.po`
holds their translations (read with polib; a missing, empty or fuzzy entry falls back to English).
The language comes from where the notebook runs, so a Chinese notebook's code is the English
notebook's code, unchanged:

1. `$COURSE_LANG` when set (`en` or `zh`);
2. else `zh` when the working directory is `notebooks/zh` (JupyterLab and nbval start a notebook's
   kernel in the notebook's folder);
3. else English.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = {"en": "English", "zh": "简体中文"}
_CATALOG_LANG = {"zh": "zh_CN"}          # course language code -> gettext locale folder
DOMAIN = "course_lib"


_FORCED: list[str] = []


@contextlib.contextmanager
def using(lang: str):
    """Show messages in `lang` inside the block (the builder writes Chinese notes this way)."""
    _FORCED.append(lang)
    try:
        yield
    finally:
        _FORCED.pop()


def language() -> str:
    """'en' or 'zh', chosen as the module docstring says."""
    if _FORCED:
        return _FORCED[-1]
    chosen = os.environ.get("COURSE_LANG", "").strip().lower()
    if chosen:
        chosen = chosen.split("_")[0].split("-")[0]
        return chosen if chosen in LANGUAGES else "en"
    cwd = Path.cwd()
    if cwd.name == "zh" and cwd.parent.name == "notebooks":
        return "zh"
    return "en"


def catalog_path(lang: str, domain: str = DOMAIN) -> Path:
    return LOCALE_DIR / _CATALOG_LANG.get(lang, lang) / "LC_MESSAGES" / f"{domain}.po"


@functools.lru_cache(maxsize=None)
def _catalog(lang: str, mtime: float) -> dict[str, str]:
    """msgid -> msgstr for the current, non-fuzzy, non-empty entries of a language's catalog."""
    import polib

    path = catalog_path(lang)
    if not path.exists():
        return {}
    return {e.msgid: e.msgstr for e in polib.pofile(str(path))
            if e.msgstr and not e.obsolete and "fuzzy" not in e.flags}


def translations(lang: str | None = None) -> dict[str, str]:
    lang = lang or language()
    if lang == "en":
        return {}
    path = catalog_path(lang)
    return _catalog(lang, path.stat().st_mtime if path.exists() else 0.0)


def _(message: str) -> str:
    """`message` in the learner's language (English when the catalog has no current translation)."""
    if not isinstance(message, str):
        return message
    return translations().get(message, message)


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; `_` translates it where it is shown."""
    return message
