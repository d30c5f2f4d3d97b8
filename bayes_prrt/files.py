"""Writing outputs safely: atomically, with the user's permissions, formula-free CSV, netCDF that
cannot crash the process, writable destinations checked before any work, and temporary folders
that a killed run leaves behind recognised and removed by the next one."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import BayesPrrtError

MARKER = ".bayes-prrt-temporary"  # in every temporary folder: the pid and host of the process using it
MKDTEMP_SUFFIX = r"[a-z0-9_]{8}"  # the random part of a tempfile.mkdtemp name
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet evaluates a cell starting so (OWASP)


def user_mode(directory: bool) -> int:
    """Permissions a new file (0666) or folder (0777) gets under the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def write_atomic(path: Path, writer) -> None:
    """Call ``writer(tmp_path)`` on a temporary file beside ``path``, then rename it into place
    (with the umask's permissions, not mkstemp's 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, user_mode(directory=False))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
SLUG_LENGTH = 60
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10))}  # Windows


def safe_slug(name: str) -> str:
    """``name`` as a part of a file name safe on every system: runs of characters other than
    ASCII letters, digits, ``. _ -`` become ``_``, a leading dot goes, and the result is at most
    SLUG_LENGTH characters. When anything changed, or the name is reserved on Windows (CON, NUL...),
    8 hex digits of the name's SHA-1 are appended, so that two names ("PFS+" and "PFS%") do not
    share a file."""
    text = str(name)
    slug = _UNSAFE.sub("_", text).lstrip(".")[:SLUG_LENGTH]
    if slug == text and slug and slug.split(".")[0].upper() not in _RESERVED:
        return slug
    return f"{slug}-{hashlib.sha1(text.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


# ---------------------------------------------------------------- CSV

def neutralise_formula(value):
    """A text cell a spreadsheet would run as a formula (it starts with = + - @, tab or CR) gets a
    leading ``'``, as the OWASP "CSV Injection" page advises; anything else is returned as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(frame, path: Path, **to_csv) -> None:
    """``frame.to_csv(path)`` with every text cell and column name passed through
    ``neutralise_formula`` (numbers stay numbers, so -0.5 is written as it is), and RFC 4180 line
    ends (CRLF): the csv module quotes a field holding any line-end character, so a CR inside a
    study name cannot split its row (with pandas' default "\n" it would)."""
    import pandas as pd

    safe = frame.rename(columns=neutralise_formula)
    text = [c for c, dtype in safe.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
    safe[text] = safe[text].map(neutralise_formula)
    safe.to_csv(path, **{"lineterminator": "\r\n", **to_csv})


# ---------------------------------------------------------------- netCDF

def netcdf_bytes(idata) -> bytes:
    """An arviz InferenceData as one netCDF-4 file, built in memory: one HDF5 group per
    InferenceData group, numeric variables zlib-compressed (the layout ``az.from_netcdf`` reads).

    Built in memory because h5py, writing to a full disk, raises and then crashes the process
    (SIGSEGV) when the file is closed; a plain write of these bytes fails with an OSError instead.
    """
    buffer, mode = io.BytesIO(), "w"
    for group in idata.groups():
        data = idata[group]
        encoding = {name: {"zlib": True} for name, var in data.variables.items() if var.dtype.kind in "biuf"}
        data.to_netcdf(buffer, mode=mode, group=group, engine="h5netcdf", encoding=encoding)
        mode = "a"
    return buffer.getvalue()


def write_netcdf(idata, path: Path) -> None:
    """Write ``idata`` to ``path`` atomically; a full disk is a one-line ``BayesPrrtError``."""
    content = netcdf_bytes(idata)
    try:
        write_atomic(path, lambda tmp: Path(tmp).write_bytes(content))
    except OSError as err:
        raise BayesPrrtError(f"cannot write {path}: {err.strerror or err}") from None


# ---------------------------------------------------------------- destinations

def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(path: Path, option: str, folder: bool = False) -> None:
    """Fail now, with one line, if ``path`` (a file, or with ``folder`` a results folder that is
    created beside itself and moved into place) could not be written: it is ``/``, the wrong kind
    of thing, or its parent (the nearest that exists) is not a folder in which a probe folder can
    be made and removed. Call it before any fit."""
    path = Path(os.path.abspath(path))
    if path == path.parent:
        raise BayesPrrtError(f"{option} {path}: cannot replace the root folder; choose a subfolder")
    if path.is_dir() != folder and path.exists():
        raise BayesPrrtError(f"{option} {path} is {'a file' if folder else 'a folder'}; "
                             f"{option} takes {'a folder' if folder else 'a file name'}")
    parent = _existing_ancestor(path.parent)
    if not parent.is_dir():
        raise BayesPrrtError(f"{option} {path}: {parent} is not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".bayes-prrt-probe.", dir=parent))
    except OSError as err:
        raise BayesPrrtError(f"{option} {path}: cannot write in {parent} ({err.strerror or err})") from None


def check_space(folder: Path, needed: int) -> None:
    """Fail with one line if ``folder``'s file system has less than ``needed`` bytes free."""
    free = shutil.disk_usage(_existing_ancestor(folder)).free
    if free < needed:
        raise BayesPrrtError(f"not enough free space in {folder}: the results need about {needed / 1e6:.1f} MB, "
                             f"{free / 1e6:.1f} MB are free")


# ---------------------------------------------------------------- temporary folders

def marked_tempdir(prefix: str, parent: Path) -> Path:
    """``mkdtemp`` in ``parent``, with the umask's permissions and a marker file naming this process
    (its pid and host), so that ``stale_tempdirs`` can tell a killed run's folder from a live one's."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(folder, user_mode(directory=True))
    mark(folder)
    return folder


def mark(folder: Path) -> None:
    (folder / MARKER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))


def unmark(folder: Path) -> None:
    (folder / MARKER).unlink(missing_ok=True)


def owner_gone(folder: Path) -> bool:
    """True when ``folder`` has a marker whose process, on this host, is no longer alive."""
    try:
        owner = json.loads((folder / MARKER).read_text())
        pid, host = int(owner["pid"]), owner["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no readable marker: not ours, leave it alone
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    return False


def stale_tempdirs(parent: Path, pattern: str) -> list[Path]:
    """The folders in ``parent`` whose whole name matches the regular expression ``pattern`` and
    whose marker names a process that is gone."""
    try:
        return sorted(p for p in parent.iterdir() if re.fullmatch(pattern, p.name) and p.is_dir()
                      and not p.is_symlink() and owner_gone(p))
    except OSError:
        return []


@contextmanager
def scratch_tempdir(prefix: str = "bayes-prrt-scratch."):
    """Point the process's (and its children's) temporary files at one marked folder in the
    system temporary folder, and delete it afterwards; stale ones of killed runs go first.

    PyMC's compilers write each generated function's source to a NamedTemporaryFile that they
    never delete (pytensor.link.utils.compile_function_src, numba's cache), about 12 per fit.
    """
    system = Path(tempfile.gettempdir())
    for stale in stale_tempdirs(system, re.escape(prefix) + MKDTEMP_SUFFIX):
        shutil.rmtree(stale, ignore_errors=True)
    folder = marked_tempdir(prefix, system)
    before = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = str(folder), str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = before[0]
        if before[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before[1]
        shutil.rmtree(folder, ignore_errors=True)
