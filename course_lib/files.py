"""Every file the course writes goes through here: atomic writes, integrity records, locks.

- `write_bytes` / `write_json` / `write_with` write to a unique temporary file in the target's
  folder, `fsync` it, then `os.replace` it over the target: a reader sees the old file or the new
  one, never half of one. A failed write (a full disk, a read-only folder) raises `FileWriteError`
  with the reason, leaves the previous file as it was and removes its temporary file.
- Each written file gets an integrity record next to it, `<name>.sha256` (the `sha256sum`
  format). `read_bytes` / `read_json` check it on every load and raise `DamagedFileError`, naming
  the file and the fix, when the content no longer matches. A file *without* a record is loaded
  as before: files written by earlier versions of the course, and the committed
  `data/results/*.json`, whose integrity git already guards (their bytes may legitimately change
  with line-ending conversion on checkout, which a recorded hash would then refuse).
- `claim(path)` holds `<name>.lock` (created exclusively, with the holder's pid, host and command)
  while a run writes `path`; a second run is refused at its start with `FileBusyError` naming the
  first. A lock left by a process that no longer runs on this machine is taken over (on Windows,
  where this module cannot tell, the message names the lock to delete by hand).
- Temporary files are named `.<name>.<pid>.<random>.course-tmp`; `remove_stale_temps` deletes
  only names of exactly that shape whose process has ended, never another file.
- Results JSON: `check_out_path` (before a long run), `save_results`, `load_results`.
"""

from __future__ import annotations

from .i18n import N_, _

import errno
import hashlib
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

RECORD_SUFFIX = ".sha256"
LOCK_SUFFIX = ".lock"
TMP_SUFFIX = ".course-tmp"


class FileWriteError(OSError):
    """A file could not be written; the previous version, if any, is intact."""


class DamagedFileError(ValueError):
    """A file's content no longer matches the SHA-256 recorded when it was written."""


class FileBusyError(RuntimeError):
    """Another run is writing the same output."""


def record_path(path: str | Path) -> Path:
    """Where the integrity record of `path` lives: `<name>.sha256` in the same folder."""
    path = Path(path)
    return path.with_name(path.name + RECORD_SUFFIX)


def lock_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + LOCK_SUFFIX)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return True                  # os.kill(pid, 0) would end the process there: never assume it died
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True                  # it exists (owned by someone else), or we cannot tell: keep it
    return True


# ----------------------------------------------------------------------------- writing
def _why(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return _("the disk is full")
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return _("the folder or file is read-only")
    return err.strerror or type(err).__name__


def _fix(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return _("free some space or choose another folder, then run again")
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return _("make the folder writable or choose another one, then run again")
    return _("check the folder, then run again")


def _temp_pattern(name: str) -> re.Pattern:
    return re.compile(rf"\.{re.escape(name)}\.(\d+)\.[A-Za-z0-9_]+{re.escape(TMP_SUFFIX)}")


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete temporary files this module made for `path` whose process has ended; returns them.
    A file is touched only if its whole name has this module's shape (`.<name>.<pid>.<random>
    .course-tmp`), so a learner's `best.pt.before-lr-change.tmp` is never touched."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    removed = []
    for name in (path.name, record_path(path).name):
        pattern = _temp_pattern(name)
        try:
            candidates = list(folder.iterdir())
        except OSError:
            return removed
        for p in candidates:
            m = pattern.fullmatch(p.name)
            if m and not _alive(int(m[1])) and p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def _fsync_folder(folder: Path) -> None:
    if sys.platform.startswith("win"):
        return                       # Windows cannot open a folder; os.replace is durable enough there
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass                         # some file systems refuse fsync on a folder
    finally:
        os.close(fd)


def _replace_atomically(path: Path, writer: Callable[[BinaryIO], None],
                        before_replace: Callable[[], None] = lambda: None) -> str:
    """Write through `writer` into a unique temporary file, fsync, replace `path`; the SHA-256."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        digest = sha256_file(tmp)
        before_replace()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    with _WRITE_GUARD:
        return _WRITE_LOCKS.setdefault(str(path.resolve()), threading.Lock())


def _write_file_and_record(path: Path, writer: Callable[[BinaryIO], None]) -> None:
    remove_stale_temps(path)
    # The old record goes just before the replace: if writing stops there, the file on disk is
    # complete (the replace is atomic) and has no record, never a record that does not match it.
    digest = _replace_atomically(path, writer, lambda: record_path(path).unlink(missing_ok=True))
    line = f"{digest}  {path.name}\n".encode()
    try:
        _replace_atomically(record_path(path), lambda f: f.write(line))
        _fsync_folder(path.parent)
    except OSError as err:
        err.replaced = True          # the file is new; only its record is missing
        raise


def write_with(path: str | Path, writer: Callable[[BinaryIO], None]) -> Path:
    """Write `path` atomically through `writer(binary_file)`, with its integrity record.

    Raises FileWriteError (naming the file and the reason) if it cannot be written; the previous
    file is then left as it was and no temporary file remains.
    """
    path = Path(path)
    if path.is_dir():
        raise FileWriteError(_("{path} is a folder; give a file name inside it").format(path=path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _write_lock(path):                # threads of one process take turns on one file
            _write_file_and_record(path, writer)
    except OSError as err:
        if isinstance(err, FileWriteError):
            raise
        state = (_("{name} was written but its integrity record was not").format(name=path.name) if getattr(err, "replaced", False) else
                 _("The previous {name}, if any, is unchanged").format(name=path.name))
        failure = FileWriteError(_("could not write {path}: {why} ({name}: {value}). {value2}; {fix}.").format(path=path, why=_why(err), name=type(err).__name__, value=err.strerror or err, value2=state, fix=_fix(err)))
        failure.errno = err.errno
        raise failure from None
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    return write_with(path, lambda f: f.write(data))


def write_json(path: str | Path, obj, indent: int | None = 1) -> Path:
    text = json.dumps(obj, indent=indent).encode()
    return write_bytes(path, text)


def check_writable(path: str | Path, what: str = N_("file"), example: str = "results.json") -> Path:
    """Fail before a long run, not at its first save: `path` must not be a folder, and its folder
    must be creatable and writable (and the file, if it exists)."""
    path = Path(path)
    if path.is_dir():
        raise FileWriteError(_("the {what} {path} is a folder; give a file name such as {value}").format(what=_(what), path=path, value=path / example))
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileWriteError(_("cannot create the folder for {path}: {why}").format(path=path, why=_why(err))) from None
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise FileWriteError(_("cannot write the {what} {path}: the folder or file is read-only").format(what=_(what), path=path))
    return path


# ----------------------------------------------------------------------------- reading
def _recorded_digest(path: Path, fix: str) -> str | None:
    record = record_path(path)
    if not record.is_file():
        return None
    text = record.read_text(errors="replace").split()
    if not text or not re.fullmatch(r"[0-9a-f]{64}", text[0]):
        raise DamagedFileError(_("{record}, the integrity record of {path}, is damaged. {fix}").format(record=record, path=path, fix=fix))
    return text[0]


def read_bytes(path: str | Path, fix: str) -> bytes:
    """The bytes of `path`, checked against its integrity record (if it has one).

    `fix` says what to do about a damaged file; it ends the DamagedFileError's message.
    """
    path = Path(path)
    data = path.read_bytes()
    digest = _recorded_digest(path, fix)
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise DamagedFileError(_("{path} is damaged: its content no longer matches the SHA-256 recorded in {name} when it was written. {fix}").format(path=path, name=record_path(path).name, fix=fix))
    return data


def read_json(path: str | Path, fix: str):
    """`read_bytes`, then JSON; a truncated or non-JSON file is a DamagedFileError too."""
    path = Path(path)
    data = read_bytes(path, fix)
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DamagedFileError(_("{path} is damaged or truncated ({err}). {fix}").format(path=path, err=err, fix=fix)) from None


def remove(path: str | Path) -> None:
    """Delete a file written here, and its integrity record."""
    Path(path).unlink(missing_ok=True)
    record_path(path).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- locks
_HELD: dict[str, tuple[int, int]] = {}       # lock path -> (thread id, depth): claims this process holds
_HELD_GUARD = threading.Lock()


def _holder(lock: Path) -> dict | None:
    try:
        return json.loads(lock.read_text())
    except (OSError, ValueError):
        return None


def _describe(holder: dict | None, lock: Path) -> str:
    if not holder:
        return _("another run (its lock {lock} is being created)").format(lock=lock)
    return (_("process {get} on {get2}, started {get3}: {get4}").format(get=holder.get('pid'), get2=holder.get('host'), get3=holder.get('started'), get4=holder.get('command')))


def _stale(holder: dict | None, lock: Path) -> bool:
    if holder is None:                       # empty or unreadable: stale only once it is old
        try:
            return time.time() - lock.stat().st_mtime > 30
        except OSError:
            return True
    return holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", -1)))


@contextmanager
def claim(path: str | Path) -> Iterator[Path]:
    """Hold the lock of `path` while writing it; FileBusyError if another run holds it.

    Re-entrant within one thread (an experiment that claims its `--out`, called by the command
    line, which claimed it already); another thread or process is refused.
    """
    path = Path(path)
    lock = lock_path(path)
    key = str(lock.resolve())
    me = threading.get_ident()
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None and held[0] == me:
            _HELD[key] = (me, held[1] + 1)
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield path
        finally:
            with _HELD_GUARD:
                _HELD[key] = (me, _HELD[key][1] - 1)
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "thread": me,
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python",
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _unused in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            if _stale(holder, lock):
                lock.unlink(missing_ok=True)
                continue
            raise FileBusyError(_("{path} is being written by {describe}. Wait for that run to finish or choose another output file. If that run no longer exists, delete {lock}.").format(path=path, describe=_describe(holder, lock), lock=lock)) from None
        except OSError as err:
            raise FileWriteError(_("cannot create the lock {lock}: {why}").format(lock=lock, why=_why(err))) from None
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(info))
        break
    else:
        raise FileBusyError(_("could not take the lock {lock}: it keeps reappearing; another run is starting on {path}").format(lock=lock, path=path))
    with _HELD_GUARD:
        _HELD[key] = (me, 1)
    try:
        yield path
    finally:
        with _HELD_GUARD:
            _HELD.pop(key, None)
        holder = _holder(lock)
        if holder and holder.get("pid") == os.getpid() and holder.get("thread") == me:
            lock.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- results JSON
RESULTS_DIR = Path(__file__).resolve().parents[1] / "data" / "results"


def check_out_path(path: str | Path, force: bool = False) -> Path:
    """Fail before a long run, not after it: `path` must not be a folder, its folder must be
    writable, and an existing file is kept unless `force`."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(_("--out {path} is a folder; give a file name such as {value}").format(path=path, value=path / 'results.json'))
    if path.exists() and not force:
        raise FileExistsError(_("{path} exists; pass --force to overwrite it (the committed results in data/results/ are what the notebooks show)").format(path=path))
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(_("cannot create {folder} ({why}); choose another --out").format(folder=folder, why=_why(err))) from None
    if not os.access(folder, os.W_OK):
        raise PermissionError(_("cannot write to {folder}; choose another --out").format(folder=folder))
    return path


def save_results(results: dict, path: str | Path, force: bool = True) -> Path:
    """Write a results dict as JSON (indent 1), atomically, with its SHA-256 record; trained
    models (`"models"`) are left out."""
    path = check_out_path(path, force)
    return write_json(path, {k: v for k, v in results.items() if k != "models"}, indent=1)


def load_results(name_or_path: str | Path) -> dict:
    """Load a results JSON by path, or by name from `data/results/` (e.g. "plain_vs_residual"),
    checked against its SHA-256 record when it has one (see the module docstring)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RESULTS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise FileNotFoundError(_("no results file at {path}; produce it with `python -m course_lib ...` (see data/results/README.md)").format(path=path))
    return read_json(path, _("Restore it with `git checkout -- {path}` or re-run its command (data/results/README.md).").format(path=path))
