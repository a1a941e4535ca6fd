"""Whole-file writes that readers never see half done: a temp file beside the target, then ``os.replace``.

The temp file (``.NAME.XXXX.tmp`` in the target's folder, so the rename never crosses a file system)
gets the mode any tool would give a new file, 0666 less the umask (a temp-file call makes it 0600),
and is removed when anything fails, so a failed write leaves the old file as it was and nothing
beside it. ``fsync=True`` flushes the data to disk before the rename, for files whose loss after a
power cut loses state (the daemon's journal). The folder must exist: creating it is the caller's choice.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from bridge.outdir import follow_umask


def _replace(path: str | os.PathLike[str], fill: Callable[[IO[bytes]], object], fsync: bool) -> None:
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        follow_umask(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = False) -> None:
    """Replace ``path`` with ``data``."""
    _replace(path, lambda fh: fh.write(data), fsync)


def write_text(path: str | os.PathLike[str], text: str, *, fsync: bool = False) -> None:
    """Replace ``path`` with ``text`` as UTF-8, line ends exactly as given (no ``\\r\\n`` on any system)."""
    write_bytes(path, text.encode("utf-8"), fsync=fsync)


def write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2, fsync: bool = False) -> None:
    """Replace ``path`` with ``obj`` as JSON. The object is encoded before any file is made, so one that
    cannot be encoded raises TypeError and leaves nothing behind."""
    write_text(path, json.dumps(obj, indent=indent), fsync=fsync)


def copy(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, fsync: bool = False) -> None:
    """Replace ``dst`` with the bytes of ``src`` (contents only, like :func:`shutil.copyfile`; the mode
    follows the umask). A missing ``src`` raises before any temp file is made."""
    with open(src, "rb") as source:
        _replace(dst, lambda fh: shutil.copyfileobj(source, fh), fsync)
