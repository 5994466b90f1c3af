"""Every file the course writes goes through here: atomic writes, integrity records, locks.

- `write_bytes` / `write_json` / `write_with` write to a unique temporary file in the target's
  folder, `fsync` it, then `os.replace` it over the target: a reader sees the old file or the new
  one, never half of one. A failed write (a full disk, a read-only folder) raises `FileWriteError`
  with the reason, leaves the previous file as it was and removes its temporary file.
  The written file keeps the permissions of the file it replaces (a new one gets the umask's), and
  a symbolic link is written through, not replaced. JSON with NaN or infinity is refused before
  anything is written (JSON has no such numbers); `write_text` writes tracked text (notebooks,
  catalogs, READMEs) the same way, without a record.
- Each file written with `write_bytes` / `write_json` / `write_with` gets an integrity record next
  to it, `<name>.sha256` (the `sha256sum` format). `read_bytes` / `read_json` check it on every
  load and raise `DamagedFileError`, naming the file and the fix, when the content no longer
  matches. While a file is being replaced its record lists the old and the new digest, so a crash
  at any moment leaves a file that matches its record, and a flipped bit never does.
- Records follow git: a file whose record no longer matches but whose bytes are exactly a version
  git holds for it (`git checkout -- FILE` after a run rewrote it) loads, and its stale record is
  removed. A file *without* a record is loaded as before when nothing else is expected (the
  committed `data/results/*.json`, whose integrity git guards); `read_bytes(..., required=True)`
  (checkpoints and feature caches, which the course always writes with a record) refuses it as
  unverified.
- `claim(path)` holds `<name>.lock` (with the holder's pid, host and command) while a run writes
  `path`; a second run is refused at its start with `FileBusyError` naming the first. The lock is
  an operating-system lock (`fcntl.flock`) on that file, so it ends with its process, and taking
  over a lock left behind has no race; a lock file with unexpected content is named in the
  message, never a traceback. (On Windows, without `fcntl`, the file is created exclusively and
  the message names the lock to delete by hand.)
- Temporary files are named `.<name>.<pid>.<random>.course-tmp`; `remove_stale_temps` deletes
  only names of exactly that shape whose process has ended, never another file.
- Results JSON: `check_out_path` (before a long run), `save_results`, `load_results`.
"""

from __future__ import annotations

from .i18n import N_, _

import errno
import hashlib
import math
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


class UnverifiedFileError(DamagedFileError):
    """A file the course always writes with an integrity record has none: it cannot be trusted."""


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


def _umask() -> int:
    with _UMASK_GUARD:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_GUARD = threading.Lock()


def _replace_atomically(path: Path, writer: Callable[[BinaryIO], None],
                        before_replace: Callable[[str], None] = lambda digest: None) -> str:
    """Write through `writer` into a unique temporary file, fsync, replace `path`; the SHA-256.
    A symbolic link is written through (its target is replaced); the permissions of the replaced
    file are kept, a new file gets 0666 less the umask (not mkstemp's 0600)."""
    target = path.resolve() if path.is_symlink() else path
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        digest = sha256_file(tmp)
        before_replace(digest)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    with _WRITE_GUARD:
        return _WRITE_LOCKS.setdefault(str(path.resolve()), threading.Lock())


def _write_file_and_record(path: Path, writer: Callable[[BinaryIO], None], record: bool = True) -> None:
    remove_stale_temps(path)
    if not record:
        _replace_atomically(path, writer)
        _fsync_folder(path.parent)
        return
    record = record_path(path)

    def both(digest: str) -> None:
        # Just before the replace the record lists the old digest and the new one: a crash on
        # either side of the replace leaves a complete file that matches its record.
        try:
            old = (_recorded_digests(path) or []) if path.exists() else []
        except DamagedFileError:
            old = []                          # a damaged record: the new one replaces it
        lines = "".join(f"{d}  {path.name}\n" for d in dict.fromkeys([*old, digest]))
        _replace_atomically(record, lambda f: f.write(lines.encode()))

    digest = _replace_atomically(path, writer, both)
    try:
        _replace_atomically(record, lambda f: f.write(f"{digest}  {path.name}\n".encode()))
        _fsync_folder(path.parent)
    except OSError as err:
        err.replaced = True          # the file is new; its record still lists the old digest too
        raise


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing parent of `path` when it is a file, not a folder (`/etc/passwd/x.json`)."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _refuse_file_in_the_way(path: Path) -> None:
    blocking = _file_in_the_way(path)
    if blocking is not None:
        raise FileWriteError(_("cannot write {path}: {parent} is a file, not a folder; choose another path").format(path=path, parent=blocking))


def write_with(path: str | Path, writer: Callable[[BinaryIO], None], record: bool = True) -> Path:
    """Write `path` atomically through `writer(binary_file)`, with its integrity record (unless
    `record` is False: files git tracks, such as notebooks and catalogs).

    Raises FileWriteError (naming the file and the reason) if it cannot be written; the previous
    file is then left as it was and no temporary file remains.
    """
    path = Path(path)
    if path.is_dir():
        raise FileWriteError(_("{path} is a folder; give a file name inside it").format(path=path))
    _refuse_file_in_the_way(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _write_lock(path):                # threads of one process take turns on one file
            _write_file_and_record(path, writer, record)
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


def write_text(path: str | Path, text: str) -> Path:
    """Write a tracked text file (a notebook, a catalog, a README) atomically, as UTF-8, without an
    integrity record (git guards it); unchanged content is not rewritten."""
    path = Path(path)
    data = text.encode("utf-8")
    try:
        if path.is_file() and path.read_bytes() == data:
            return path
    except OSError:
        pass
    return write_with(path, lambda f: f.write(data), record=False)


def _not_finite(obj, where: str = "") -> str | None:
    """The place of the first NaN or infinity in a JSON-like object ('' for the top), or None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return where or "(the value itself)"
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return None
    for key, value in items:
        found = _not_finite(value, f"{where}[{key!r}]")
        if found:
            return found
    return None


def json_text(obj, indent: int | None = 1) -> str:
    """JSON text of `obj`; NaN and infinity refused (ValueError naming where), as JSON has neither."""
    where = _not_finite(obj)
    if where is not None:
        raise ValueError(_("refusing to write NaN or infinity at {where}: JSON has no such numbers (write None, "
                           "or leave the entry out)").format(where=where))
    return json.dumps(obj, indent=indent, allow_nan=False)


def write_json(path: str | Path, obj, indent: int | None = 1) -> Path:
    """Write `obj` as JSON with its integrity record; NaN and infinity are refused before writing."""
    return write_bytes(path, json_text(obj, indent).encode())


def check_writable(path: str | Path, what: str = N_("file"), example: str = "results.json") -> Path:
    """Fail before a long run, not at its first save: `path` must not be a folder, and its folder
    must be creatable and writable (and the file, if it exists)."""
    path = Path(path)
    if path.is_dir():
        raise FileWriteError(_("the {what} {path} is a folder; give a file name such as {value}").format(what=_(what), path=path, value=path / example))
    folder = path.parent if str(path.parent) else Path(".")
    _refuse_file_in_the_way(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileWriteError(_("cannot create the folder for {path}: {why}").format(path=path, why=_why(err))) from None
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise FileWriteError(_("cannot write the {what} {path}: the folder or file is read-only").format(what=_(what), path=path))
    return path


# ----------------------------------------------------------------------------- reading
def _recorded_digests(path: Path, fix: str = "") -> list[str] | None:
    """The digests a file's record lists (one, or two while it is being replaced); None without one."""
    record = record_path(path)
    if not record.is_file():
        return None
    words = [line.split()[0] for line in record.read_text(errors="replace").splitlines() if line.split()]
    if not words or not all(re.fullmatch(r"[0-9a-f]{64}", w) for w in words) or len(words) > 2:
        raise DamagedFileError(_("{record}, the integrity record of {path}, is damaged. {fix}").format(record=record, path=path, fix=fix))
    return words


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def git_holds(path: Path, data: bytes) -> bool:
    """Whether `data` is exactly a version of `path` that git holds: the index's or HEAD's blob.
    False outside a git checkout or without git."""
    import subprocess

    path = Path(path).resolve()
    blob = _git_blob(data)
    try:
        top = subprocess.run(["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=20)
        if top.returncode != 0:
            return False
        rel = path.relative_to(Path(top.stdout.strip()).resolve()).as_posix()
        for spec in (f":{rel}", f"HEAD:{rel}"):
            got = subprocess.run(["git", "-C", top.stdout.strip(), "rev-parse", "--verify", "--quiet", spec],
                                 capture_output=True, text=True, timeout=20)
            if got.returncode == 0 and got.stdout.strip() == blob:
                return True
    except (OSError, ValueError, subprocess.SubprocessError):
        return False
    return False


def read_bytes(path: str | Path, fix: str, required: bool = False) -> bytes:
    """The bytes of `path`, checked against its integrity record.

    A record that no longer matches is a DamagedFileError, unless the bytes are exactly a version git
    holds for the file (restored with `git checkout`): then the stale record is removed. Without a
    record the file loads, unless `required` (a file the course always writes with one, such as a
    checkpoint or a feature cache): then it is an UnverifiedFileError. `fix` says what to do; it
    ends the messages.
    """
    path = Path(path)
    data = path.read_bytes()
    digests = _recorded_digests(path, fix)
    if digests is None:
        if required:
            raise UnverifiedFileError(_("{path} has no integrity record ({name}), which the course writes with every such file, so its content cannot be verified. {fix}").format(path=path, name=record_path(path).name, fix=fix))
        return data
    if hashlib.sha256(data).hexdigest() not in digests:
        if git_holds(path, data):
            record_path(path).unlink(missing_ok=True)       # restored by git: git guards it now
            return data
        raise DamagedFileError(_("{path} is damaged: its content no longer matches the SHA-256 recorded in {name} when it was written. {fix}").format(path=path, name=record_path(path).name, fix=fix))
    return data


def read_json(path: str | Path, fix: str, required: bool = False):
    """`read_bytes`, then JSON; a truncated or non-JSON file is a DamagedFileError too."""
    path = Path(path)
    data = read_bytes(path, fix, required)
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


try:
    import fcntl
except ImportError:                          # Windows
    fcntl = None


def _holder(lock: Path) -> dict | None:
    """The holder's details from a lock file; None when it is empty, unreadable or malformed."""
    try:
        data = json.loads(lock.read_text(errors="replace"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _pid(holder: dict | None) -> int | None:
    try:
        return int(holder.get("pid")) if holder else None
    except (TypeError, ValueError):
        return None


def _describe(holder: dict | None, lock: Path) -> str:
    if _pid(holder) is None:
        return _("another run (its lock {lock} does not say which)").format(lock=lock)
    return (_("process {get} on {get2}, started {get3}: {get4}").format(get=holder.get('pid'), get2=holder.get('host'), get3=holder.get('started'), get4=holder.get('command')))


def _stale(holder: dict | None, lock: Path) -> bool:
    """Without fcntl only: whether a lock file was left by a process that has ended."""
    pid = _pid(holder)
    if pid is None:                          # empty, unreadable or malformed: stale only once it is old
        try:
            return time.time() - lock.stat().st_mtime > 30
        except OSError:
            return True
    return holder.get("host") == socket.gethostname() and not _alive(pid)


def _busy(path: Path, lock: Path) -> FileBusyError:
    return FileBusyError(_("{path} is being written by {describe}. Wait for that run to finish or choose another output file. If that run no longer exists, delete {lock}.").format(path=path, describe=_describe(_holder(lock), lock), lock=lock))


def _take_flock(path: Path, lock: Path, info: dict) -> int:
    """An exclusive operating-system lock on `lock`, held through the returned descriptor."""
    for _unused in range(50):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as err:
            raise FileWriteError(_("cannot create the lock {lock}: {why}").format(lock=lock, why=_why(err))) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise _busy(path, lock) from None
        try:                                 # still the file at that name? (a holder unlinks it on release)
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode())
            return fd
        os.close(fd)
    raise FileBusyError(_("could not take the lock {lock}: it keeps reappearing; another run is starting on {path}").format(lock=lock, path=path))


def _take_exclusive(path: Path, lock: Path, info: dict) -> None:
    """Without fcntl: create the lock file exclusively; a lock left by an ended process is taken over."""
    for _unused in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _stale(_holder(lock), lock):
                lock.unlink(missing_ok=True)
                continue
            raise _busy(path, lock) from None
        except OSError as err:
            raise FileWriteError(_("cannot create the lock {lock}: {why}").format(lock=lock, why=_why(err))) from None
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(info))
        return
    raise FileBusyError(_("could not take the lock {lock}: it keeps reappearing; another run is starting on {path}").format(lock=lock, path=path))


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
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileWriteError(_("cannot create the lock {lock}: {why}").format(lock=lock, why=_why(err))) from None
    info = {"pid": os.getpid(), "host": socket.gethostname(), "thread": me,
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python",
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    fd = _take_flock(path, lock, info) if fcntl is not None else None
    if fd is None:
        _take_exclusive(path, lock, info)
    with _HELD_GUARD:
        _HELD[key] = (me, 1)
    try:
        yield path
    finally:
        with _HELD_GUARD:
            _HELD.pop(key, None)
        if fd is not None:
            lock.unlink(missing_ok=True)     # while still holding it: a waiter re-checks the name
            os.close(fd)
        else:
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
    blocking = _file_in_the_way(path)
    if blocking is not None:
        raise NotADirectoryError(_("--out {path}: {parent} is a file, not a folder; choose another --out").format(path=path, parent=blocking))
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


def finite_or_none(obj):
    """`obj` with every NaN or infinity replaced by None (JSON's null), the results files'
    convention for a number that does not exist (a confidence interval from one seed)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def save_results(results: dict, path: str | Path, force: bool = True) -> Path:
    """Write a results dict as JSON (indent 1), atomically, with its SHA-256 record; trained
    models (`"models"`) are left out; NaN and infinity are written as null (`finite_or_none`)."""
    path = check_out_path(path, force)
    return write_json(path, finite_or_none({k: v for k, v in results.items() if k != "models"}), indent=1)


def load_results(name_or_path: str | Path) -> dict:
    """Load a results JSON by path, or by name from `data/results/` (e.g. "plain_vs_residual"),
    checked against its SHA-256 record when it has one (see the module docstring)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RESULTS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise FileNotFoundError(_("no results file at {path}; produce it with `python -m course_lib ...` (see data/results/README.md)").format(path=path))
    return read_json(path, _("Restore it with `git checkout -- {path}` or re-run its command (data/results/README.md).").format(path=path))
