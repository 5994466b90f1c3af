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
import re
import string
import warnings
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


# ------------------------------------------------------------------ validating a catalog
_KEYWORD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)[ \t]+(.*)$')
_STRING = re.compile(r'^"((?:[^"\\]|\\.)*)"[ \t]*$')
_BAD_ESCAPE = re.compile(r'\\[^ntr"\\abfv0-7x]')
_CONFLICT = re.compile(r"^(<{7}|={7}|>{7})( |$)")


def _fields(text: str) -> list[str]:
    """The replacement fields of a str.format template ('{name}', '{n:.3g}' -> 'name', 'n:.3g');
    ValueError for a stray or unbalanced brace."""
    return [f"{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}"
            for _lit, name, spec, conv in string.Formatter().parse(text) if name is not None]


def catalog_problems(path: Path, formats: bool = True) -> list[str]:
    """Everything wrong with a .po file, one line each naming file and line ('' when fine): UTF-8,
    the syntax as strictly as `msgfmt -c` (unterminated strings, bad escapes, keywords out of order,
    duplicates, merge-conflict markers, msgid/msgstr newline mismatch) and, with `formats` (the
    run-time catalog, whose messages are `str.format` templates), placeholders identical to the
    msgid's and balanced braces in every current translation."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        return [f"{path}:{line}: not valid UTF-8 (byte {err.start}); save the catalog as UTF-8"]
    except OSError as err:
        return [f"{path}: cannot be read ({err.strerror or err})"]
    problems, entries = [], []          # entries: [line, {keyword: text}] of live entries
    current, last = None, None          # the entry being read, the keyword its last string belongs to

    def unquote(s: str) -> str:
        return (s.replace("\\\\", "\0").replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t")
                 .replace("\0", "\\"))

    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if _CONFLICT.match(line):
            problems.append(f"{path}:{n}: a merge-conflict marker ({line[:7]}): resolve the conflict first")
            last = None
            continue
        if not stripped or stripped.startswith("#"):
            last = None if not stripped else last
            continue
        m = _KEYWORD.match(stripped)
        string_part = m.group(2) if m else stripped
        s = _STRING.match(string_part)
        if not s:
            what = "an unterminated or malformed string" if string_part.startswith('"') else "a line that is not PO syntax"
            problems.append(f"{path}:{n}: {what}: {stripped[:60]!r}")
            last = None
            continue
        if _BAD_ESCAPE.search(s.group(1)):
            problems.append(f"{path}:{n}: an invalid escape sequence in {stripped[:60]!r}")
        value = unquote(s.group(1))
        if m:
            keyword = m.group(1)
            done = current is None or any(k.startswith("msgstr") for k in current[1])
            if keyword == "msgctxt" or (keyword == "msgid" and not (current and set(current[1]) == {"msgctxt"})):
                if not done:
                    problems.append(f"{path}:{n}: {keyword} before the previous entry's msgstr")
                current = [n, {}]
                entries.append(current)
            elif current is None:
                current = [n, {}]
                entries.append(current)
            if keyword.startswith("msgstr") and "msgid" not in current[1]:
                problems.append(f"{path}:{n}: {keyword} without a msgid before it")
            if keyword in current[1]:
                problems.append(f"{path}:{n}: a second {keyword} in one entry")
            current[1][keyword] = value
            last = keyword
        elif last is None or current is None:
            problems.append(f"{path}:{n}: a string that continues nothing: {stripped[:60]!r}")
        else:
            current[1][last] += value
    seen = {}
    for line, entry in entries:
        if "msgid" not in entry or not any(k.startswith("msgstr") for k in entry):
            problems.append(f"{path}:{line}: an entry without " + ("a msgstr" if "msgid" in entry else "a msgid"))
            continue
        key = (entry.get("msgctxt"), entry["msgid"])
        if key in seen:
            problems.append(f"{path}:{line}: a duplicate of the message defined at line {seen[key]}")
        seen[key] = line
        msgid, msgstr = entry["msgid"], entry.get("msgstr", "")
        if not msgid or not msgstr:
            continue                                    # the header, or not translated yet
        if msgid.endswith("\n") != msgstr.endswith("\n") or msgid.startswith("\n") != msgstr.startswith("\n"):
            problems.append(f"{path}:{line}: msgid and msgstr differ in a leading or trailing newline (msgfmt -c refuses it)")
        if formats:
            try:
                want = sorted(_fields(msgid))
            except ValueError:
                continue                                # not a template (a literal brace): nothing to compare
            try:
                got = sorted(_fields(msgstr))
            except ValueError as err:
                problems.append(f"{path}:{line}: the translation's braces are unbalanced ({err}): {msgstr[:60]!r}")
                continue
            if got != want:
                problems.append(f"{path}:{line}: the translation's placeholders {got} differ from the English's {want}: "
                                f"{msgid[:50]!r}")
    return problems


_WARNED: set[str] = set()


@functools.lru_cache(maxsize=None)
def _catalog(lang: str, mtime: float) -> dict[str, str]:
    """msgid -> msgstr for the current, non-fuzzy, non-empty entries of a language's catalog; a
    catalog that is not valid (see `catalog_problems`) gives English, with one warning."""
    import polib

    path = catalog_path(lang)
    if not path.exists():
        return {}
    problems = catalog_problems(path)
    if problems:
        if str(path) not in _WARNED:
            _WARNED.add(str(path))
            warnings.warn(f"the {LANGUAGES.get(lang, lang)} catalog is damaged, so messages are shown in English "
                          f"({len(problems)} problem(s); the first: {problems[0]}). Run python -m "
                          "course_lib.tools.translate check, or restore the file with git.", RuntimeWarning, stacklevel=3)
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
