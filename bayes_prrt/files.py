"""Writing outputs so that an interrupted run leaves nothing half-written, under safe file names."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path


def write_atomic(path: Path, writer) -> None:
    """Call ``writer(tmp_path)`` on a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        writer(tmp)
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
